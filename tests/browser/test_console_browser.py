"""The console in a real browser against a running gateway, as a new user would use it:
sign in with the admin key, create a key (copied to the clipboard), generate and edit in the
playground on the sandbox, find the images in the requests gallery, look at usage, sign in
with the client key, revoke it and see a request with it refused. Then, on a gateway whose
tasks wait for a worker: limit a key to one model and make it metered through the form,
credit it, see the limits enforced by the API, and watch an async task turn from pending to
completed on the Requests page without a reload. Screenshots go to test-artifacts/console/."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.console.helpers import start_worker, stop_worker
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


LIMITS_CONFIG = """
providers:
  local: {type: sandbox}
deployments:
  - {model: house-style, provider: local, upstream_model: sandbox-image}
"""


@pytest.fixture(scope="module")
def gw_tasks(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    """A gateway whose tasks wait for a worker the test starts (so it sees them pending)."""
    tmp = tmp_path_factory.mktemp("browser-tasks")
    (tmp / "pixelgate.yaml").write_text(LIMITS_CONFIG)
    gw = start_gateway(
        tmp / "data",
        None,
        PIXELGATE_ADMIN_KEY=ADMIN_KEY,
        PIXELGATE_CONFIG=str(tmp / "pixelgate.yaml"),
        PIXELGATE_RUN_WORKER="false",
    )
    yield gw
    gw.stop()


def test_limits_credit_and_a_task_finishing_live(
    browser: Any, gw_tasks: Gateway, artifacts: Path
) -> None:
    gw = gw_tasks
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(WAIT_MS)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    external: list[str] = []
    page.on(
        "request",
        lambda req: None if req.url.startswith(gw.base_url) else external.append(req.url),
    )
    page.goto(gw.base_url + "/console/login")
    page.fill("#key", ADMIN_KEY)
    page.click("button[type=submit]")
    page.wait_for_url("**/console/keys")
    page.fill("#name", "metered")
    page.click("text=Create key")
    secret = page.input_value("#new-key")
    key_id = page.get_attribute("#keys-table tbody tr:first-child", "data-key-id")
    assert key_id and secret.startswith("pg-")
    headers = {"Authorization": f"Bearer {secret}"}
    editor, row = f"#edit-{key_id}", f"tr[data-key-id='{key_id}']"

    # Limits: metered (no longer unlimited), and one model only. Ticking the model picks
    # "only the ticked ones" by itself.
    page.click(f"{editor} summary")
    page.uncheck(f"{editor} input[name=unlimited]")
    page.check(f"{editor} input[name=allowed_models][value='house-style']")
    assert page.is_checked(f"{editor} input[name=models][value=only]")
    page.screenshot(path=str(artifacts / "11-key-limits-form.png"), full_page=True)
    page.click(f"{editor} >> text=Save limits")
    page.wait_for_selector("#notice")
    assert page.inner_text("#notice") == "Limits saved."
    assert "models: house-style" in page.inner_text(f"{row} td.limits")
    assert page.inner_text(f"{row} td.balance") == "$0.0000"

    def generate(model: str, **body: Any) -> httpx.Response:
        return httpx.post(
            gw.base_url + "/v1/images/generations",
            headers=headers,
            json={"model": model, "prompt": "a lighthouse", "size": "64x64", **body},
            timeout=60,
        )

    refused = generate("sandbox-image")  # not an allowed model
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "model_not_allowed"
    broke = generate("house-style")  # allowed, but metered with nothing to pay
    assert broke.status_code == 402 and broke.json()["error"]["code"] == "insufficient_quota"

    # Credit through the form; the balance column shows it and the key can pay.
    page.click(f"{editor} summary")
    page.fill(f"{editor} input[name=amount]", "0.05")
    page.fill(f"{editor} input[name=note]", "browser top-up")
    page.click(f"{editor} >> text=Add credit")
    page.wait_for_selector("#notice")
    assert page.inner_text(f"{row} td.balance") == "$0.0500"
    page.screenshot(path=str(artifacts / "12-key-credited.png"), full_page=True)
    assert generate("house-style").status_code == 200

    # An async task: pending on the Requests page until a worker runs it, then completed
    # in place — the page is never reloaded.
    created = generate("house-style", **{"async": True})
    assert created.status_code == 200, created.text
    task_id = created.json()["task_id"]
    page.click("nav >> text=Requests")
    task_row = f"tr[data-task-id='{task_id}']"
    page.wait_for_selector(task_row)
    assert page.inner_text(f"{task_row} .task-status .status") == "pending"
    assert page.inner_text(f"{task_row} .task-cost") == "held $0.0010"
    page.screenshot(path=str(artifacts / "13-task-pending.png"), full_page=True)
    page.evaluate("window.pixelgateNotReloaded = true")
    worker = start_worker(gw)
    try:
        wait_until(
            page,
            lambda: page.get_attribute(task_row, "data-final") == "true",
            "the task to finish on the page",
        )
    finally:
        stop_worker(worker)
    assert page.evaluate("window.pixelgateNotReloaded") is True
    assert page.inner_text(f"{task_row} .task-status .status") == "completed"
    assert page.inner_text(f"{task_row} .task-progress span") == "100 %"
    assert page.inner_text(f"{task_row} .task-cost") == "$0.0010"
    wait_until(page, lambda: _loaded(page, f"{task_row} td.thumbs img"), "the task's image")
    src = page.get_attribute(f"{task_row} td.thumbs img", "src")
    assert src and src.startswith("/v1/files/img_")
    page.screenshot(path=str(artifacts / "14-task-completed-live.png"), full_page=True)

    # What it all cost: one sync image and one task image, taken from the credit.
    page.click("nav >> text=Keys")
    assert page.inner_text(f"{row} td.balance") == "$0.0480"
    assert errors == [] and external == []
    context.close()
