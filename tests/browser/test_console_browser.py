"""The console in a real browser against a running gateway, as a new user would use it:
sign in with the admin key, create a key (copied to the clipboard), generate and edit in the
playground on the sandbox, find the images in the requests gallery, look at usage, sign in
with the client key, revoke it and see a request with it refused. Screenshots go to
test-artifacts/console/."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.fakes.images import image_bytes
from tests.support.gateway import Gateway, start_gateway

ADMIN_KEY = "browser-admin-key-9f8e7d"
WAIT_MS = 60_000  # shared 2-core machines: be patient, never assert on timing


@pytest.fixture(scope="module")
def gw(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    gw = start_gateway(tmp_path_factory.mktemp("browser"), None, PIXELGATE_ADMIN_KEY=ADMIN_KEY)
    yield gw
    gw.stop()


def _loaded(page: Any, selector: str) -> bool:
    """Every image matching `selector` finished loading with real pixels."""
    return bool(
        page.eval_on_selector_all(
            selector, "els => els.length > 0 && els.every(i => i.complete && i.naturalWidth > 0)"
        )
    )


def wait_until(page: Any, check: Any, what: str) -> None:
    """Poll a Python-side check (the pages' CSP forbids the string eval wait_for_function
    needs, and the test keeps the CSP on to prove the console works under it)."""
    for _ in range(WAIT_MS // 100):
        if check():
            return
        page.wait_for_timeout(100)
    raise AssertionError(f"timed out waiting for {what}")


def test_new_user_journey_from_the_console(
    browser: Any, gw: Gateway, artifacts: Path, tmp_path: Path
) -> None:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=gw.base_url)
    context.set_default_timeout(WAIT_MS)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("dialog", lambda dialog: dialog.accept())
    external: list[str] = []
    page.on(
        "request",
        lambda req: None if req.url.startswith(gw.base_url) else external.append(req.url),
    )

    # Sign in with the admin key.
    page.goto(gw.base_url + "/console")
    page.wait_for_selector("#key")
    page.screenshot(path=str(artifacts / "01-sign-in.png"))
    page.fill("#key", ADMIN_KEY)
    page.click("button[type=submit]")
    page.wait_for_url("**/console/keys")

    # Create a key: shown once, copied with the button.
    page.fill("#name", "browser test")
    page.click("text=Create key")
    secret = page.input_value("#new-key")
    assert secret.startswith("pg-")
    page.click("[data-copy='#new-key']")
    wait_until(page, lambda: page.inner_text("[data-copy='#new-key']") == "Copied", "copy")
    assert page.evaluate("navigator.clipboard.readText()") == secret
    page.screenshot(path=str(artifacts / "02-key-created.png"), full_page=True)
    key_id = page.get_attribute("#keys-table tbody tr:first-child", "data-key-id")
    assert key_id and key_id.startswith("key_")

    # Generate in the playground on the sandbox, as that key.
    page.click("nav >> text=Playground")
    page.select_option("#pg-key", key_id)
    page.select_option("#pg-model", "sandbox-image")
    page.fill("#pg-prompt", "a lighthouse at dusk")
    page.select_option("select[name=size]", "custom")
    page.fill("[data-custom-size]", "512x384")
    assert "a lighthouse at dusk" in page.inner_text("#pg-curl")
    assert 'size="512x384"' in page.inner_text("#pg-python")
    page.click("#pg-submit")
    wait_until(page, lambda: _loaded(page, "#pg-images img"), "the generated image")
    size = page.eval_on_selector("#pg-images img", "i => [i.naturalWidth, i.naturalHeight]")
    assert size == [512, 384]
    request_id = re.search(r"req_[0-9a-f]+", page.inner_text("#pg-meta"))
    assert request_id, page.inner_text("#pg-meta")
    page.screenshot(path=str(artifacts / "03-playground-generate.png"), full_page=True)

    # Edit with an uploaded image and mask.
    image, mask = tmp_path / "photo.png", tmp_path / "mask.png"
    image.write_bytes(image_bytes(300, 200))
    mask.write_bytes(image_bytes(300, 200, color=(0, 0, 0, 0)))
    page.select_option("#pg-op", "edit")
    page.set_input_files("#pg-image", str(image))
    page.set_input_files("#pg-mask", str(mask))
    page.fill("#pg-prompt", "add a full moon")
    assert "mask=@mask.png" in page.inner_text("#pg-curl")
    page.click("#pg-submit")
    wait_until(page, lambda: "HTTP 200" in page.inner_text("#pg-meta"), "the edit")
    wait_until(page, lambda: _loaded(page, "#pg-images img"), "the edited image")
    assert page.eval_on_selector("#pg-images img", "i => i.naturalWidth") == 300
    page.screenshot(path=str(artifacts / "04-playground-edit.png"), full_page=True)

    # The requests gallery shows the generated image as a thumbnail.
    page.click("nav >> text=Requests")
    row = f"tr[data-request-id='{request_id.group(0)}']"
    page.wait_for_selector(row)
    wait_until(page, lambda: _loaded(page, f"{row} td.thumbs img"), "the thumbnail")
    assert _loaded(page, f"{row} td.thumbs img")
    assert page.inner_text(f"{row} .status") == "200"
    page.screenshot(path=str(artifacts / "05-requests-gallery.png"), full_page=True)

    # Usage: the chart and the counts.
    page.click("nav >> text=Usage")
    assert page.is_visible("svg.chart")
    assert int(page.inner_text("#total-images")) >= 2
    spend = page.inner_text("#total-spend")  # what it cost, from the ledger
    assert spend.startswith("$") and float(spend[1:]) > 0
    page.screenshot(path=str(artifacts / "06-usage.png"), full_page=True)
    page.click("nav >> text=Deployments")
    page.wait_for_selector("#deployments-table")
    page.screenshot(path=str(artifacts / "07-deployments.png"), full_page=True)

    # The client key's own console: only its data.
    mine = browser.new_context(viewport={"width": 1280, "height": 900})
    mine.set_default_timeout(WAIT_MS)
    own = mine.new_page()
    own.goto(gw.base_url + "/console/login")
    own.fill("#key", secret)
    own.click("button[type=submit]")
    own.wait_for_url("**/console/usage")
    assert "key: browser test" in own.inner_text("header")
    own.click("nav >> text=Requests")
    assert own.locator("#requests-table tbody tr[data-request-id]").count() == 2
    own.screenshot(path=str(artifacts / "08-client-key-view.png"), full_page=True)

    # Revoke the key; a request with it is refused and its console session ends.
    page.click("nav >> text=Keys")
    page.click(f"tr[data-key-id='{key_id}'] >> text=Revoke")
    page.wait_for_selector(f"tr[data-key-id='{key_id}'] .status.bad")
    assert page.inner_text(f"tr[data-key-id='{key_id}'] .status") == "revoked"
    page.screenshot(path=str(artifacts / "09-key-revoked.png"), full_page=True)
    refused = httpx.post(
        gw.base_url + "/v1/images/generations",
        headers={"Authorization": f"Bearer {secret}"},
        json={"model": "sandbox-image", "prompt": "after revoke"},
        timeout=60,
    )
    assert refused.status_code == 401
    assert refused.json()["error"]["code"] == "invalid_api_key"
    page.click("nav >> text=Requests")
    refused_row = f"tr[data-request-id='{refused.headers['x-request-id']}']"
    assert page.inner_text(f"{refused_row} .status") == "401"
    page.screenshot(path=str(artifacts / "10-refused-request.png"), full_page=True)
    own.reload()
    own.wait_for_url("**/console/login")

    assert errors == [] and external == []
    mine.close()
    context.close()
