"""Malformed and invalid requests over raw HTTP: a 4xx in OpenAI's error shape, naming
`param` where one applies, logged as a failure, nothing stored, no upstream reached."""

from __future__ import annotations

import base64
import io
import socket
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from PIL import Image

from tests.fakes.images import image_bytes
from tests.support.db import file_count, last_usage
from tests.support.gateway import Gateway, start_gateway

GEN = "/v1/images/generations"
EDIT = "/v1/images/edits"


def check_error(
    gw: Gateway, resp: httpx.Response, status: int, param: str | None, code: str | None = None
) -> dict[str, Any]:
    assert resp.status_code == status, resp.text
    body = resp.json()
    assert set(body) == {"error"}
    err = body["error"]
    assert set(err) == {"message", "type", "param", "code"}
    assert err["message"]
    assert err["param"] == param
    if code is not None:
        assert err["code"] == code
    row = last_usage(gw)
    assert row.request_id == resp.headers["x-request-id"]
    assert row.status == status and row.error_code == err["code"] and row.images == 0
    return dict(err)


@pytest.fixture
def files_before(gateway: Gateway) -> Iterator[int]:
    before = file_count(gateway)
    yield before
    assert file_count(gateway) == before


@pytest.mark.parametrize(
    ("body", "status", "param"),
    [
        ({"model": "sandbox-image"}, 400, "prompt"),
        ({"model": "sandbox-image", "prompt": "  "}, 400, "prompt"),
        ({"model": "sandbox-image", "prompt": 5}, 400, "prompt"),
        ({"prompt": "x"}, 400, "model"),
        ({"model": "no-such-model", "prompt": "x"}, 404, "model"),
        ({"model": "sandbox-image", "prompt": "x", "n": 0}, 400, "n"),
        ({"model": "sandbox-image", "prompt": "x", "n": 11}, 400, "n"),
        ({"model": "sandbox-image", "prompt": "x", "n": "2"}, 400, "n"),
        ({"model": "sandbox-image", "prompt": "x", "size": "big"}, 400, "size"),
        ({"model": "sandbox-image", "prompt": "x", "size": "9000x9000"}, 400, "size"),
        ({"model": "sandbox-image", "prompt": "x", "size": "1024x0"}, 400, "size"),
        ({"model": "sandbox-image", "prompt": "x", "output_format": "gif"}, 400, "output_format"),
        (
            {"model": "sandbox-image", "prompt": "x", "response_format": "png"},
            400,
            "response_format",
        ),
        ({"model": "sandbox-image", "prompt": "x", "quality": "ultra"}, 400, "quality"),
        (
            {
                "model": "sandbox-image",
                "prompt": "x",
                "background": "transparent",
                "output_format": "jpeg",
            },
            400,
            "background",
        ),
        (
            {"model": "sandbox-image", "prompt": "x", "output_compression": 50},
            400,
            "output_compression",
        ),
        (
            {
                "model": "sandbox-image",
                "prompt": "x",
                "output_format": "webp",
                "output_compression": 101,
            },
            400,
            "output_compression",
        ),
        ({"model": "sandbox-image", "prompt": "x" * 32001}, 400, "prompt"),
    ],
)
def test_invalid_generation(
    gateway: Gateway, files_before: int, body: dict[str, Any], status: int, param: str
) -> None:
    resp = httpx.post(gateway.base_url + GEN, json=body, headers=gateway.headers)
    check_error(gateway, resp, status, param)


def test_unknown_fields_are_kept_not_rejected(gateway: Gateway) -> None:
    body = {
        "model": "sandbox-image",
        "prompt": "x",
        "size": "64x64",
        "watermark": False,
        "moderation": "low",
        "some_vendor_field": {"a": 1},
    }
    resp = httpx.post(gateway.base_url + GEN, json=body, headers=gateway.headers)
    assert resp.status_code == 200, resp.text


def test_malformed_json(gateway: Gateway, files_before: int) -> None:
    resp = httpx.post(
        gateway.base_url + GEN,
        content=b'{"model": "sandbox-image", "prompt": ',
        headers={**gateway.headers, "Content-Type": "application/json"},
    )
    check_error(gateway, resp, 400, None)


def test_json_not_an_object(gateway: Gateway, files_before: int) -> None:
    resp = httpx.post(gateway.base_url + GEN, json=["x"], headers=gateway.headers)
    check_error(gateway, resp, 400, None)


def test_wrong_content_type(gateway: Gateway, files_before: int) -> None:
    resp = httpx.post(
        gateway.base_url + GEN,
        content=b"model=sandbox-image&prompt=x",
        headers={**gateway.headers, "Content-Type": "text/plain"},
    )
    check_error(gateway, resp, 415, None, "unsupported_media_type")
    resp = httpx.post(
        gateway.base_url + EDIT,
        content=b'{"model": "sandbox-image"}',
        headers={**gateway.headers, "Content-Type": "text/plain"},
    )
    check_error(gateway, resp, 415, None, "unsupported_media_type")


def test_missing_and_revoked_key(gateway: Gateway) -> None:
    body = {"model": "sandbox-image", "prompt": "x"}
    resp = httpx.post(gateway.base_url + GEN, json=body)
    check_error(gateway, resp, 401, None, "invalid_api_key")
    created = gateway.cli("keys", "create", "--name", "temp").stdout.strip().splitlines()
    secret = created[-1]
    key_id = created[0].split()[2]
    ok = httpx.post(
        gateway.base_url + GEN,
        json={**body, "size": "32x32"},
        headers={"Authorization": f"Bearer {secret}"},
    )
    assert ok.status_code == 200
    listing = gateway.cli("keys", "list").stdout
    assert key_id in listing and secret not in listing
    gateway.cli("keys", "revoke", key_id)
    assert "revoked" in gateway.cli("keys", "list").stdout
    resp = httpx.post(gateway.base_url + GEN, json=body, headers={"X-API-Key": secret})
    check_error(gateway, resp, 401, None, "invalid_api_key")


def _png(width: int = 64, height: int = 64) -> bytes:
    return image_bytes(width, height, "PNG")


def test_edit_non_image_upload(gateway: Gateway, files_before: int) -> None:
    resp = httpx.post(
        gateway.base_url + EDIT,
        data={"model": "sandbox-image", "prompt": "x"},
        files={"image": ("notes.png", b"this is not an image", "image/png")},
        headers=gateway.headers,
    )
    check_error(gateway, resp, 400, "image")


def test_edit_truncated_upload(gateway: Gateway, files_before: int) -> None:
    img = Image.effect_noise((256, 256), 64).convert("RGB")
    buf = io.BytesIO()
    img.save(buf, "PNG")
    data = buf.getvalue()
    resp = httpx.post(
        gateway.base_url + EDIT,
        data={"model": "sandbox-image", "prompt": "x"},
        files={"image": ("cut.png", data[: len(data) // 2], "image/png")},
        headers=gateway.headers,
    )
    check_error(gateway, resp, 400, "image")


def test_edit_image_sent_as_text_field(gateway: Gateway, files_before: int) -> None:
    resp = httpx.post(
        gateway.base_url + EDIT,
        data={"model": "sandbox-image", "prompt": "x"},
        headers=gateway.headers,
        files={"image": (None, "/path/to/image.png")},
    )
    check_error(gateway, resp, 400, "image")


def test_edit_missing_image(gateway: Gateway, files_before: int) -> None:
    resp = httpx.post(
        gateway.base_url + EDIT,
        data={"model": "sandbox-image", "prompt": "x"},
        files={"mask": ("m.png", _png(), "image/png")},
        headers=gateway.headers,
    )
    check_error(gateway, resp, 400, "image")


def test_edit_mask_size_mismatch(gateway: Gateway, files_before: int) -> None:
    resp = httpx.post(
        gateway.base_url + EDIT,
        data={"model": "sandbox-image", "prompt": "x"},
        files=[
            ("image", ("a.png", _png(64, 64), "image/png")),
            ("mask", ("m.png", _png(32, 32), "image/png")),
        ],
        headers=gateway.headers,
    )
    check_error(gateway, resp, 400, "mask")


def test_malformed_multipart(gateway: Gateway, files_before: int) -> None:
    resp = httpx.post(
        gateway.base_url + EDIT,
        content=b'--XYZ\r\nContent-Disposition: form-data; name="prompt"\r\n\r\nx\r\n--XY',
        headers={**gateway.headers, "Content-Type": "multipart/form-data; boundary=XYZ"},
    )
    assert resp.status_code == 400, resp.text
    resp = httpx.post(
        gateway.base_url + EDIT,
        content=b"garbage",
        headers={**gateway.headers, "Content-Type": "multipart/form-data"},
    )
    check_error(gateway, resp, 400, None)


def test_json_edit_with_data_urls(gateway: Gateway) -> None:
    data_url = "data:image/png;base64," + base64.b64encode(_png(80, 60)).decode()
    jpeg_url = "data:image/jpeg;base64," + base64.b64encode(image_bytes(40, 40, "JPEG")).decode()
    body = {
        "model": "sandbox-image",
        "prompt": "combine",
        "images": [{"image_url": data_url}, {"image_url": jpeg_url}],
    }
    resp = httpx.post(gateway.base_url + EDIT, json=body, headers=gateway.headers)
    assert resp.status_code == 200, resp.text
    out = Image.open(io.BytesIO(base64.b64decode(resp.json()["data"][0]["b64_json"])))
    assert out.size == (80, 60)


def test_json_edit_bad_data_url(gateway: Gateway, files_before: int) -> None:
    body = {
        "model": "sandbox-image",
        "prompt": "x",
        "images": [{"image_url": "data:image/png;base64,@@@"}],
    }
    resp = httpx.post(gateway.base_url + EDIT, json=body, headers=gateway.headers)
    check_error(gateway, resp, 400, "images[0]")
    body["images"] = [{"file_id": "file-1"}]
    resp = httpx.post(gateway.base_url + EDIT, json=body, headers=gateway.headers)
    check_error(gateway, resp, 400, "images[0]")
    body["images"] = [{"image_url": "ftp://example.invalid/a.png"}]
    resp = httpx.post(gateway.base_url + EDIT, json=body, headers=gateway.headers)
    check_error(gateway, resp, 400, "images[0]")


def test_unknown_route_is_openai_404(gateway: Gateway) -> None:
    resp = httpx.get(gateway.base_url + "/v1/nothing-here", headers=gateway.headers)
    assert resp.status_code == 404 and "error" in resp.json()


@pytest.fixture(scope="module")
def small_limit_gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    gw = start_gateway(
        tmp_path_factory.mktemp("small"), None, PIXELGATE_MAX_UPLOAD_BYTES=str(256 * 1024)
    )
    yield gw
    gw.stop()


def test_upload_over_limit_declared(small_limit_gateway: Gateway) -> None:
    gw = small_limit_gateway
    big = image_bytes(16, 16) + b"\0" * (300 * 1024)
    resp = httpx.post(
        gw.base_url + EDIT,
        data={"model": "sandbox-image", "prompt": "x"},
        files={"image": ("big.png", big, "image/png")},
        headers=gw.headers,
    )
    check_error(gw, resp, 413, None, "payload_too_large")
    assert file_count(gw) == 0


def test_upload_over_limit_streamed_is_refused_early(small_limit_gateway: Gateway) -> None:
    """A chunked body with no Content-Length gets its 413 while the client is still sending:
    the client sends a little over the limit, never finishes the body, and still gets the
    answer — so the gateway did not wait to buffer the whole upload."""
    gw = small_limit_gateway
    host, port = gw.base_url.removeprefix("http://").split(":")
    head = (
        f"POST {EDIT} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {gw.key}\r\n"
        "Content-Type: multipart/form-data; boundary=B\r\nTransfer-Encoding: chunked\r\n\r\n"
    ).encode()
    part = (
        b'--B\r\nContent-Disposition: form-data; name="image"; filename="a.png"\r\n'
        b"Content-Type: image/png\r\n\r\n"
    )
    with socket.create_connection((host, int(port)), timeout=15) as sock:
        sock.sendall(head + f"{len(part):x}\r\n".encode() + part + b"\r\n")
        chunk = b"\0" * 65536
        for _ in range(6):  # 384 KiB > 256 KiB limit; the body is never terminated
            sock.sendall(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
        answer = b""
        while b"\r\n\r\n" not in answer:
            data = sock.recv(65536)
            if not data:
                break
            answer += data
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
    row = last_usage(gw)
    assert row.status == 413 and row.error_code == "payload_too_large"


def test_decompression_bomb_is_refused(gateway: Gateway, files_before: int) -> None:
    buf = io.BytesIO()
    Image.new("L", (12000, 12000), 0).save(buf, "PNG", optimize=True)
    assert len(buf.getvalue()) < 2_000_000  # tiny on the wire, 144 megapixels decoded
    resp = httpx.post(
        gateway.base_url + EDIT,
        data={"model": "sandbox-image", "prompt": "x"},
        files={"image": ("bomb.png", buf.getvalue(), "image/png")},
        headers=gateway.headers,
        timeout=60,
    )
    err = check_error(gateway, resp, 400, "image")
    assert "too large" in err["message"]


def test_multipart_limits(gateway: Gateway, files_before: int) -> None:
    many_fields = {f"f{i}": "x" for i in range(100)}
    resp = httpx.post(
        gateway.base_url + EDIT,
        data={"model": "sandbox-image", "prompt": "x", **many_fields},
        files={"image": ("a.png", _png(), "image/png")},
        headers=gateway.headers,
    )
    check_error(gateway, resp, 400, None)
    resp = httpx.post(
        gateway.base_url + EDIT,
        data={"model": "sandbox-image", "prompt": "p" * (1024 * 1024 + 10)},
        files={"image": ("a.png", _png(), "image/png")},
        headers=gateway.headers,
    )
    check_error(gateway, resp, 400, None)
    resp = httpx.post(
        gateway.base_url + EDIT,
        data={"model": "sandbox-image", "prompt": "x"},
        files=[("image[]", (f"{i}.png", _png(16, 16), "image/png")) for i in range(20)],
        headers=gateway.headers,
    )
    assert resp.status_code == 400


def test_too_many_json_images(gateway: Gateway, files_before: int) -> None:
    url = "data:image/png;base64," + base64.b64encode(_png(16, 16)).decode()
    body = {"model": "sandbox-image", "prompt": "x", "images": [{"image_url": url}] * 17}
    resp = httpx.post(gateway.base_url + EDIT, json=body, headers=gateway.headers)
    check_error(gateway, resp, 400, "images")
