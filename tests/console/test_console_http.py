"""The console over real HTTP against a running gateway: sign-in, sessions and CSRF, the
per-key view, keys, usage, requests with thumbnails, the playground proxy, deployments."""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterator

import httpx
import pytest
from PIL import Image

from tests.console.helpers import create_key, csrf_of, run_playground, sign_in
from tests.fakes.images import image_bytes
from tests.support.gateway import Gateway, start_gateway

ADMIN_KEY = "console-admin-key-0123456789"


@pytest.fixture(scope="module")
def gw(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    gw = start_gateway(tmp_path_factory.mktemp("console"), None, PIXELGATE_ADMIN_KEY=ADMIN_KEY)
    yield gw
    gw.stop()


def test_sign_in_sets_a_strict_httponly_session_and_sign_out_ends_it(gw: Gateway) -> None:
    anon = httpx.Client(base_url=gw.base_url)
    assert anon.get("/console/keys").headers["location"] == "/console/login"
    page = anon.get("/console/login")
    assert "Content-Security-Policy" in page.headers
    bad = anon.post("/console/login", data={"key": "nope", "csrf": csrf_of(page.text)})
    assert bad.status_code == 401 and "not valid" in bad.text
    # Without the pre-session cookie's token the sign-in form is refused (login CSRF).
    forged = httpx.post(
        gw.base_url + "/console/login", data={"key": ADMIN_KEY, "csrf": csrf_of(page.text)}
    )
    assert forged.status_code == 400
    admin = sign_in(gw, ADMIN_KEY)
    cookie = next(c for c in admin.cookies.jar if c.name == "pg_console")
    raw = admin.get("/console/keys")
    assert raw.status_code == 200 and "API keys" in raw.text
    login = httpx.Client(base_url=gw.base_url)
    page = login.get("/console/login")
    resp = login.post("/console/login", data={"key": ADMIN_KEY, "csrf": csrf_of(page.text)})
    header = resp.headers["set-cookie"].lower()
    assert "httponly" in header and "samesite=strict" in header and "path=/console" in header
    assert "secure" not in header  # plain http here; https requests get Secure
    assert ADMIN_KEY not in resp.headers["set-cookie"] and cookie.value
    # Sign-out needs the CSRF token, then the cookie is gone.
    assert admin.post("/console/logout", data={"csrf": "wrong"}).status_code == 403
    out = admin.post("/console/logout", data={"csrf": csrf_of(raw.text)})
    assert out.status_code == 303
    assert admin.get("/console/keys").status_code == 303


def test_the_session_cookie_is_secure_over_https(gw: Gateway) -> None:
    # uvicorn trusts X-Forwarded-Proto from loopback, as from a TLS-terminating proxy.
    https = {"X-Forwarded-Proto": "https"}
    page = httpx.get(gw.base_url + "/console/login", headers=https)
    assert "; secure" in page.headers["set-cookie"].lower()
    # A client keeps a Secure cookie for https only; send it as the browser would there.
    cookie = {"Cookie": f"pg_console_pre={page.cookies['pg_console_pre']}"}
    resp = httpx.post(
        gw.base_url + "/console/login",
        data={"key": ADMIN_KEY, "csrf": csrf_of(page.text)},
        headers=https | cookie,
    )
    assert resp.status_code == 303
    assert "; secure" in resp.headers["set-cookie"].lower()


def test_a_tampered_cookie_is_no_session(gw: Gateway) -> None:
    admin = sign_in(gw, ADMIN_KEY)
    value = admin.cookies["pg_console"]
    body, sig = value.split(".")
    forged = httpx.Client(base_url=gw.base_url, cookies={"pg_console": body + "." + sig[::-1]})
    assert forged.get("/console/keys").status_code == 303


def test_keys_create_once_list_and_revoke_with_csrf(gw: Gateway) -> None:
    admin = sign_in(gw, ADMIN_KEY)
    key_id, secret = create_key(admin, "shown-once")
    listing = admin.get("/console/keys").text
    assert key_id in listing and secret not in listing  # never shown again
    ok = httpx.get(gw.base_url + "/v1/models", headers={"Authorization": f"Bearer {secret}"})
    assert ok.status_code == 200
    refused = admin.post(f"/console/keys/{key_id}/revoke", data={"csrf": "forged"})
    assert refused.status_code == 403
    done = admin.post(f"/console/keys/{key_id}/revoke", data={"csrf": csrf_of(listing)})
    assert done.status_code == 303
    gone = httpx.get(gw.base_url + "/v1/models", headers={"Authorization": f"Bearer {secret}"})
    assert gone.status_code == 401
    assert admin.post("/console/keys", data={"name": "x"}).status_code == 403


def test_playground_generates_as_the_picked_key_and_the_gallery_shows_it(gw: Gateway) -> None:
    admin = sign_in(gw, ADMIN_KEY)
    key_id, _ = create_key(admin, "gallery")
    body = {"model": "sandbox-image", "prompt": "a red kite", "size": "256x256", "n": 2}
    resp = run_playground(admin, body, key_id)
    assert resp.status_code == 200, resp.text
    result = resp.json()
    assert result["status"] == 200 and result["request_id"].startswith("req_")
    assert (result["cost_micros"], result["cost"]) == (2000, "$0.0020")  # two 1K images
    urls = [item["url"] for item in result["response"]["data"]]
    assert len(urls) == 2 and all("b64_json" not in item for item in result["response"]["data"])
    image = Image.open(io.BytesIO(httpx.get(urls[0]).content))
    assert image.size == (256, 256)
    page = admin.get("/console/requests", params={"key": key_id}).text
    row = page.split(f'data-request-id="{result["request_id"]}"', 1)[1].split("</tr>", 1)[0]
    thumbs = re.findall(r'<img src="([^"]+)"', row)
    assert len(thumbs) == 2 and all(t.startswith("/v1/files/img_") for t in thumbs)
    fetched = httpx.get(gw.base_url + thumbs[0].replace("&amp;", "&"))
    assert fetched.status_code == 200 and fetched.headers["content-type"] == "image/png"
    assert ";base64," not in page and "b64_json" not in page


def test_playground_edit_with_image_and_mask(gw: Gateway) -> None:
    admin = sign_in(gw, ADMIN_KEY)
    key_id, _ = create_key(admin, "editor")
    body = {"model": "sandbox-image", "prompt": "add a moon"}
    resp = run_playground(admin, body, key_id, image=image_bytes(96, 64), mask=image_bytes(96, 64))
    result = resp.json()
    assert result["status"] == 200, result
    url = result["response"]["data"][0]["url"]
    assert Image.open(io.BytesIO(httpx.get(url).content)).size == (96, 64)
    bad_mask = run_playground(
        admin, body, key_id, image=image_bytes(96, 64), mask=image_bytes(32, 32)
    ).json()
    assert bad_mask["status"] == 400 and "mask" in bad_mask["response"]["error"]["message"]


def test_playground_needs_csrf_and_a_live_key(gw: Gateway) -> None:
    admin = sign_in(gw, ADMIN_KEY)
    body = {"model": "sandbox-image", "prompt": "x"}
    no_token = admin.post(
        "/console/playground/run", data={"operation": "generate", "body": json.dumps(body)}
    )
    assert no_token.status_code == 403
    key_id, _ = create_key(admin, "to-revoke")
    listing = admin.get("/console/keys").text
    admin.post(f"/console/keys/{key_id}/revoke", data={"csrf": csrf_of(listing)})
    refused = run_playground(admin, body, key_id).json()
    assert refused["status"] == 401
    assert refused["response"]["error"]["code"] == "invalid_api_key"


def test_a_client_key_sees_only_its_own_data(gw: Gateway) -> None:
    admin = sign_in(gw, ADMIN_KEY)
    mine_id, mine = create_key(admin, "mine")
    other_id, other = create_key(admin, "other")
    for secret, prompt in ((mine, "my own prompt"), (other, "someone else's prompt")):
        r = httpx.post(
            gw.base_url + "/v1/images/generations",
            headers={"Authorization": f"Bearer {secret}"},
            json={"model": "sandbox-image", "prompt": prompt, "size": "64x64"},
            timeout=60,
        )
        assert r.status_code == 200
    me = sign_in(gw, mine)
    assert me.get("/console/").headers["location"] == "/console/usage"
    requests_page = me.get("/console/requests", params={"key": other_id}).text
    assert "my own prompt" in requests_page and "someone else" not in requests_page
    keys_page = me.get("/console/keys").text
    assert mine_id in keys_page and other_id not in keys_page and "Create a key" not in keys_page
    assert me.get("/console/deployments").status_code == 403
    page = me.get("/console/keys").text
    assert me.post("/console/keys", data={"name": "x", "csrf": csrf_of(page)}).status_code == 403
    exported = me.get("/console/usage.csv", params={"key": other_id}).text
    rows = list(csv.DictReader(io.StringIO(exported)))
    assert rows and {r["key_id"] for r in rows} == {mine_id}
    # Its playground runs with its own key, whatever key id the form names.
    run = run_playground(me, {"model": "sandbox-image", "prompt": "mine again"}, other_id)
    assert run.json()["status"] == 200
    own = me.get("/console/requests").text
    assert "mine again" in own
    # Revoking the key ends its console session.
    listing = admin.get("/console/keys").text
    admin.post(f"/console/keys/{mine_id}/revoke", data={"csrf": csrf_of(listing)})
    assert me.get("/console/usage").status_code == 303


def test_usage_page_chart_filters_and_csv(gw: Gateway) -> None:
    admin = sign_in(gw, ADMIN_KEY)
    key_id, secret = create_key(admin, "usage")
    for _ in range(2):
        r = httpx.post(
            gw.base_url + "/v1/images/generations",
            headers={"Authorization": f"Bearer {secret}"},
            json={"model": "sandbox-image", "prompt": "counted", "size": "64x64", "n": 3},
            timeout=60,
        )
        assert r.status_code == 200
    page = admin.get("/console/usage", params={"key": key_id}).text
    assert '<svg class="chart"' in page
    assert re.search(r'id="total-images">6<', page) and re.search(r'id="total-requests">2<', page)
    # What it cost: six 1K sandbox images at the shipped $0.001 each.
    assert re.search(r'id="total-spend">\$0\.0060<', page)
    exported = admin.get("/console/usage.csv", params={"key": key_id})
    assert exported.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(exported.text)))
    assert [
        (r["key_name"], r["model"], r["requests"], r["images"], r["spend_micros"]) for r in rows
    ] == [("usage", "sandbox-image", "2", "6", "6000")]
    listed = admin.get("/console/requests", params={"key": key_id}).text
    assert listed.count("$0.0030") == 2  # each request's own cost
    empty = admin.get("/console/usage", params={"key": key_id, "model": "dall-e-3"}).text
    assert re.search(r'id="total-images">0<', empty)


def test_deployments_page_and_static_assets(gw: Gateway) -> None:
    admin = sign_in(gw, ADMIN_KEY)
    page = admin.get("/console/deployments").text
    assert 'data-deployment="sandbox/sandbox-image"' in page and "closed" in page
    for asset, kind in (("console.css", "text/css"), ("console.js", "javascript")):
        resp = httpx.get(f"{gw.base_url}/console/static/{asset}")
        assert resp.status_code == 200 and kind in resp.headers["content-type"]
    playground = admin.get("/console/playground").text
    assert "http://" not in re.sub(r'(xmlns|base_url)="[^"]*"', "", playground.split("<main>")[0])
    spec = json.loads(re.search(r'id="pg-spec"[^>]*>(.*?)</script>', playground, re.S).group(1))
    assert "sandbox-image" in {m["model"] for m in spec}


def test_console_pages_never_embed_secrets(gw: Gateway) -> None:
    admin = sign_in(gw, ADMIN_KEY)
    for path in ("keys", "usage", "requests", "playground", "deployments"):
        text = admin.get(f"/console/{path}").text
        assert ADMIN_KEY not in text and gw.key not in text
