"""Self-tests of the Azure OpenAI Images fake, driven by the SDK's `AzureOpenAI` client."""

from __future__ import annotations

import base64
import dataclasses
import io
from collections.abc import Iterator
from typing import Any, NamedTuple

import httpx
import openai
import orjson
import pytest
from openai import AzureOpenAI
from PIL import Image

from tests.fakes.azure import AzureFakeState, create_app
from tests.fakes.images import image_bytes
from tests.fakes.server import serve

VERSION = "2025-04-01-preview"
KEY = {"api-key": "azure-key"}


class Fake(NamedTuple):
    state: AzureFakeState
    base: str

    def client(self, version: str = VERSION, **auth: Any) -> AzureOpenAI:
        auth = auth or {"api_key": "azure-key"}
        return AzureOpenAI(azure_endpoint=self.base, api_version=version, max_retries=0, **auth)

    def url(self, deployment: str, op: str = "generations", version: str | None = VERSION) -> str:
        query = f"?api-version={version}" if version else ""
        return f"{self.base}/openai/deployments/{deployment}/images/{op}{query}"


@pytest.fixture(scope="module")
def served() -> Iterator[Fake]:
    state = AzureFakeState()
    with serve(create_app(state)) as base:
        yield Fake(state, base)


@pytest.fixture
def fake(served: Fake) -> Fake:
    fresh = AzureFakeState()
    for f in dataclasses.fields(fresh):
        setattr(served.state, f.name, getattr(fresh, f.name))
    return served


def decode(b64: str | None) -> Image.Image:
    assert b64 is not None
    return Image.open(io.BytesIO(base64.b64decode(b64)))


def png(w: int = 64, h: int = 64) -> tuple[str, bytes, str]:
    return ("a.png", image_bytes(w, h), "image/png")


def test_generate_via_deployment_path_with_api_key(fake: Fake) -> None:
    resp = fake.client().images.generate(
        model="gpt-image-1", prompt="A lighthouse", size="1024x1536", quality="high"
    )
    assert resp.data is not None
    img = decode(resp.data[0].b64_json)
    assert (img.format, img.size) == ("PNG", (1024, 1536))
    assert resp.usage is not None and resp.usage.output_tokens == 6240
    extra = resp.data[0].model_extra or {}
    assert extra["content_filter_results"]["violence"] == {"filtered": False, "severity": "safe"}
    assert extra["prompt_filter_results"]["jailbreak"]["detected"] is False
    record = fake.state.requests[-1]
    assert record.path == "/openai/deployments/gpt-image-1/images/generations"
    assert record.query == {"api-version": VERSION}
    assert record.headers["api-key"] == "azure-key" and "authorization" not in record.headers


def test_deployment_name_picks_the_model(fake: Fake) -> None:
    fake.state.deployments["my-gpt2"] = "gpt-image-2"
    resp = fake.client().images.generate(model="my-gpt2", prompt="x", size="1536x864")
    assert resp.data is not None and decode(resp.data[0].b64_json).size == (1536, 864)
    fake.state.filter_annotations = False
    plain = fake.client().images.generate(model="my-gpt2", prompt="x")
    assert plain.data is not None and not plain.data[0].model_extra


def test_entra_bearer_token(fake: Fake) -> None:
    fake.state.entra_tokens = {"entra-token"}
    client = fake.client(azure_ad_token="entra-token")
    resp = client.images.generate(model="dall-e-3", prompt="a fox", quality="hd")
    assert resp.data is not None and resp.data[0].url and resp.data[0].revised_prompt
    got = httpx.get(resp.data[0].url)
    assert Image.open(io.BytesIO(got.content)).size == (1024, 1024)
    assert fake.state.requests[-1].headers["authorization"] == "Bearer entra-token"
    with pytest.raises(openai.AuthenticationError, match="Access token is missing"):
        fake.client(azure_ad_token="stale").images.generate(model="dall-e-3", prompt="x")


def test_edit_single_several_and_mask(fake: Fake) -> None:
    client = fake.client()
    one = client.images.edit(model="gpt-image-1", prompt="hat", image=png())
    assert one.data is not None and decode(one.data[0].b64_json).size == (1024, 1024)
    assert [p.name for p in fake.state.requests[-1].files] == ["image"]
    assert fake.state.requests[-1].path == "/openai/deployments/gpt-image-1/images/edits"
    many = client.images.edit(
        model="gpt-image-1.5", prompt="basket", image=[png(), png(32, 32)], output_format="jpeg"
    )
    assert many.data is not None and decode(many.data[0].b64_json).format == "JPEG"
    assert [p.name for p in fake.state.requests[-1].files] == ["image[]", "image[]"]
    masked = client.images.edit(
        model="gpt-image-1", prompt="fill", image=png(), mask=("m.png", image_bytes(), "image/png")
    )
    assert masked.data is not None
    assert [p.name for p in fake.state.requests[-1].files] == ["image", "mask"]


def test_stream_partial_images(fake: Fake) -> None:
    stream = fake.client().images.generate(
        model="gpt-image-1", prompt="x", stream=True, partial_images=2, size="1024x1536"
    )
    events = list(stream)
    assert [e.type for e in events][-1] == "image_generation.completed"
    assert len(events) == 3
    for event in events:
        assert decode(event.b64_json).size == (1024, 1536)


@pytest.mark.parametrize(
    ("url_args", "headers", "status", "code"),
    [
        (("dall-e-3", "generations", None), KEY, 404, "404"),
        (("dall-e-3", "generations", "1999-01-01"), KEY, 400, "BadRequest"),
        (("dall-e-3", "generations", VERSION), {"api-key": "nope"}, 401, "401"),
        (("dall-e-3", "generations", VERSION), {}, 401, "401"),
        (("dall-e-3", "generations", VERSION), {"Authorization": "Bearer x"}, 401, "401"),
        (("missing", "generations", VERSION), KEY, 404, "DeploymentNotFound"),
        (("gpt-image-1", "generations", "2024-02-01"), KEY, 400, "BadRequest"),
        (("dall-e-3", "variations", VERSION), KEY, 404, "404"),
    ],
)
def test_azure_rejections(
    fake: Fake,
    url_args: tuple[str, str, str | None],
    headers: dict[str, str],
    status: int,
    code: str,
) -> None:
    resp = httpx.post(fake.url(*url_args), json={"prompt": "x"}, headers=headers)
    assert resp.status_code == status
    body = resp.json()
    assert set(body["error"]) == {"code", "message"} and body["error"]["code"] == code


def test_parameter_errors_use_openai_envelope(fake: Fake) -> None:
    resp = httpx.post(
        fake.url("dall-e-3"), json={"prompt": "x", "size": "256x256", "n": 1}, headers=KEY
    )
    assert resp.status_code == 400
    assert resp.json()["error"]["code"] == "invalid_value"
    assert resp.json()["error"]["param"] == "size"
    with pytest.raises(openai.BadRequestError):
        fake.client().images.generate(model="dall-e-3", prompt="x", n=2)


@pytest.mark.parametrize("deployment", ["gpt-image-1", "dall-e-3"])
def test_content_filter_block(fake: Fake, deployment: str) -> None:
    fake.state.moderation_block_words = {"forbidden"}
    resp = httpx.post(fake.url(deployment), json={"prompt": "something forbidden"}, headers=KEY)
    assert resp.status_code == 400
    error = resp.json()["error"]
    assert error["code"] == "content_policy_violation"
    assert error["inner_error"]["code"] == "ResponsibleAIPolicyViolation"
    assert error["inner_error"]["content_filter_results"]["violence"]["filtered"] is True


@pytest.mark.parametrize("fault", ["status_500", "status_502", "status_503"])
def test_status_faults_use_azure_body(fake: Fake, fault: str) -> None:
    fake.state.faults.queue(fault)
    resp = httpx.post(fake.url("dall-e-3"), json={"prompt": "x"}, headers=KEY)
    assert resp.status_code == int(fault[-3:])
    assert resp.json()["error"]["code"] == fault[-3:]


def test_429_retry_after(fake: Fake) -> None:
    fake.state.faults.retry_after = 3
    fake.state.faults.queue("status_429")
    resp = httpx.post(fake.url("dall-e-3"), json={"prompt": "x"}, headers=KEY)
    assert resp.status_code == 429 and resp.headers["retry-after"] == "3"
    assert resp.json() == {"error": {"code": "429", "message": "fake upstream fault 429"}}


def test_timeout_malformed_truncated_and_drip(fake: Fake) -> None:
    body = {"prompt": "x", "response_format": "b64_json"}
    fake.state.faults.hang_seconds = 1.0
    fake.state.faults.drip_delay = 0.002
    fake.state.faults.queue("timeout", "malformed_json", "truncated", "slow_drip")
    with pytest.raises(httpx.ReadTimeout):
        httpx.post(fake.url("dall-e-3"), json=body, headers=KEY, timeout=0.2)
    malformed = httpx.post(fake.url("dall-e-3"), json=body, headers=KEY)
    with pytest.raises(orjson.JSONDecodeError):
        orjson.loads(malformed.content)
    with pytest.raises(httpx.RemoteProtocolError):
        httpx.post(fake.url("dall-e-3"), json=body, headers=KEY)
    with httpx.stream("POST", fake.url("dall-e-3"), json=body, headers=KEY) as resp:
        chunks = list(resp.iter_raw())
    assert len(chunks) > 1
    data = orjson.loads(b"".join(chunks))["data"][0]
    assert decode(data["b64_json"]).size == (1024, 1024) and data["content_filter_results"]
