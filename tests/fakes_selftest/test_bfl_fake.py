"""Drive the BFL FLUX fake over loopback HTTP with raw httpx, as an upstream client would."""

from __future__ import annotations

import io
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import orjson
import pytest
from PIL import Image

from tests.fakes.bfl import BFLFakeState, create_app
from tests.fakes.images import image_b64
from tests.fakes.server import serve

KEY = "bfl-test-key"


@dataclass
class Fake:
    base: str
    state: BFLFakeState
    client: httpx.Client

    def submit(self, model: str, body: Any, key: str | None = KEY) -> httpx.Response:
        headers = {"x-key": key} if key else {}
        return self.client.post(f"{self.base}/v1/{model}", json=body, headers=headers)

    def poll(self, url: str, key: str | None = KEY) -> httpx.Response:
        return self.client.get(url, headers={"x-key": key} if key else {})

    def run(self, model: str, body: dict[str, Any]) -> list[dict[str, Any]]:
        """Submit and poll to a terminal status; every poll answer in order."""
        submitted = self.submit(model, body)
        assert submitted.status_code == 200, submitted.text
        answers = []
        for _ in range(self.state.steps_until_ready + 3):
            answers.append(self.poll(submitted.json()["polling_url"]).json())
            if answers[-1]["status"] != "Pending":
                return answers
        raise AssertionError(f"never finished: {answers}")


@pytest.fixture
def fake() -> Iterator[Fake]:
    state = BFLFakeState(steps_until_ready=2)
    with serve(create_app(state)) as base, httpx.Client(timeout=10) as client:
        yield Fake(base, state, client)


def open_image(response: httpx.Response) -> Image.Image:
    assert response.status_code == 200, response.text
    return Image.open(io.BytesIO(response.content))


@pytest.mark.parametrize(
    ("model", "body", "size", "fmt"),
    [
        ("flux-pro-1.1", {"prompt": "fox", "width": 512, "height": 256, "output_format": "png"},
         (512, 256), "PNG"),
        ("flux-pro-1.1", {"prompt": "default size"}, (1024, 768), "JPEG"),
        ("flux-dev", {"prompt": "fox", "width": 256, "height": 384, "steps": 20, "guidance": 2.5,
                      "output_format": "webp"}, (256, 384), "WEBP"),
        ("flux-pro-1.1-ultra", {"prompt": "fox", "aspect_ratio": "21:9", "raw": True},
         (3136, 1344), "JPEG"),
        ("flux-kontext-pro", {"prompt": "make it blue", "input_image": image_b64(300, 150)},
         (1440, 736), "PNG"),
        ("flux-kontext-max", {"prompt": "fox", "aspect_ratio": "1:1", "output_format": "jpeg"},
         (1024, 1024), "JPEG"),
        ("flux-pro-1.0-expand", {"image": image_b64(64, 64), "top": 32, "left": 16},
         (80, 96), "JPEG"),
        ("flux-2-pro", {"prompt": "fox", "width": 512, "height": 320, "output_format": "png"},
         (512, 320), "PNG"),
    ],
)  # fmt: skip
def test_submit_poll_ready_and_download_real_image(
    fake: Fake, model: str, body: dict[str, Any], size: tuple[int, int], fmt: str
) -> None:
    submitted = fake.submit(model, {**body, "seed": 7})
    assert submitted.status_code == 200
    answer = submitted.json()
    assert answer["polling_url"] == f"{fake.base}/v1/get_result?id={answer['id']}"
    assert answer["cost"] > 0 and answer["output_mp"] == round(size[0] * size[1] / 1e6, 2)

    polls = [fake.poll(answer["polling_url"]).json() for _ in range(3)]
    assert [p["status"] for p in polls] == ["Pending", "Pending", "Ready"]
    assert 0 < polls[0]["progress"] < polls[1]["progress"] < 1 and polls[2]["progress"] is None
    result = polls[2]["result"]
    assert result["seed"] == 7 and result["prompt"] == body.get("prompt", "")
    assert fake.poll(answer["polling_url"]).json()["status"] == "Ready"  # terminal stays

    image = open_image(fake.client.get(result["sample"]))  # signed link: no x-key
    assert image.size == size and image.format == fmt
    assert fake.state.submissions[model] == 1


@pytest.mark.parametrize("outcome", ["Error", "Content Moderated", "Request Moderated"])
def test_non_ready_outcomes(fake: Fake, outcome: str) -> None:
    fake.state.outcome = outcome
    answers = fake.run("flux-pro-1.1", {"prompt": "fox"})
    final = answers[-1]
    assert [a["status"] for a in answers] == ["Pending", "Pending", outcome]
    assert final["result"] is None and final["progress"] is None
    key = "error" if outcome == "Error" else "Moderation Reasons"
    assert final["details"][key]
    fake.state.outcome = "Ready"
    assert fake.run("flux-pro-1.1", {"prompt": "fox"})[-1]["status"] == "Ready"


@pytest.mark.parametrize(
    ("model", "body", "loc", "kind"),
    [
        ("flux-pro-1.1", {"width": 500}, ["body", "width"], "multiple_of"),
        ("flux-pro-1.1", {"width": 1472}, ["body", "width"], "less_than_equal"),
        ("flux-pro-1.1", {"height": 224}, ["body", "height"], "greater_than_equal"),
        ("flux-pro-1.1", {"width": "wide"}, ["body", "width"], "int_parsing"),
        ("flux-pro-1.1", {"safety_tolerance": 7}, ["body", "safety_tolerance"], "less_than_equal"),
        ("flux-pro-1.1", {"output_format": "gif"}, ["body", "output_format"], "enum"),
        ("flux-pro-1.1", {"prompt_upsampling": "maybe"}, ["body", "prompt_upsampling"],
         "bool_parsing"),
        ("flux-pro-1.1", {"seed": 1.5}, ["body", "seed"], "int_from_float"),
        ("flux-pro-1.1", {"webhook_url": "not a url"}, ["body", "webhook_url"], "url_parsing"),
        ("flux-dev", {"steps": 51}, ["body", "steps"], "less_than_equal"),
        ("flux-dev", {"guidance": 9}, ["body", "guidance"], "less_than_equal"),
        ("flux-pro-1.1-ultra", {"aspect_ratio": "1:4"}, ["body", "aspect_ratio"], "value_error"),
        ("flux-pro-1.1-ultra", {"image_prompt_strength": 2}, ["body", "image_prompt_strength"],
         "less_than_equal"),
        ("flux-kontext-pro", {"input_image": image_b64()}, ["body", "prompt"], "missing"),
        ("flux-kontext-pro", {"prompt": "x", "input_image": "%%%"}, ["body", "input_image"],
         "value_error"),
        ("flux-kontext-max", {"prompt": "x", "output_format": "webp"}, ["body", "output_format"],
         "enum"),
        ("flux-kontext-max", {"prompt": "x", "aspect_ratio": "22:9"}, ["body", "aspect_ratio"],
         "value_error"),
        ("flux-2-pro", {"prompt": "x", "width": 1000}, ["body", "width"], "multiple_of"),
        ("flux-2-pro", {"prompt": "x", "width": 4096, "height": 4096}, ["body"], "value_error"),
        ("flux-pro-1.0-fill", {"prompt": "x"}, ["body", "image"], "missing"),
    ],
)  # fmt: skip
def test_validation_errors_use_the_fastapi_422_shape(
    fake: Fake, model: str, body: dict[str, Any], loc: list[str], kind: str
) -> None:
    response = fake.submit(model, body)
    assert response.status_code == 422
    errors = response.json()["detail"]
    assert {"type": kind, "loc": loc}.items() <= errors[0].items()
    assert isinstance(errors[0]["msg"], str) and "input" in errors[0]
    assert fake.state.submissions[model] == 0 and not fake.state.tasks


def test_every_bad_field_is_reported_and_ctx_is_given(fake: Fake) -> None:
    response = fake.submit("flux-pro-1.1", {"width": 100, "height": 2000, "output_format": "bmp"})
    errors = {tuple(e["loc"]): e for e in response.json()["detail"]}
    assert set(errors) == {("body", "width"), ("body", "height"), ("body", "output_format")}
    assert errors[("body", "width")]["ctx"] == {"multiple_of": 32}
    assert errors[("body", "output_format")]["msg"] == "Input should be 'jpeg', 'png' or 'webp'"


def test_bad_json_and_non_object_bodies(fake: Fake) -> None:
    headers = {"x-key": KEY, "content-type": "application/json"}
    broken = fake.client.post(f"{fake.base}/v1/flux-pro-1.1", content=b"{nope", headers=headers)
    assert broken.status_code == 422 and broken.json()["detail"][0]["type"] == "json_invalid"
    listed = fake.submit("flux-pro-1.1", ["prompt"])
    assert listed.status_code == 422
    assert listed.json()["detail"][0]["type"] == "model_attributes_type"
    unknown = fake.submit("flux-imaginary", {"prompt": "x"})
    assert unknown.status_code == 404 and unknown.json() == {"detail": "Not Found"}


def test_auth_failures_on_submit_and_poll(fake: Fake) -> None:
    missing = fake.submit("flux-pro-1.1", {"prompt": "x"}, key=None)
    assert missing.status_code == 403 and missing.json() == {"detail": "Not authenticated"}
    wrong = fake.submit("flux-pro-1.1", {"prompt": "x"}, key="nope")
    assert wrong.status_code == 403
    assert wrong.json()["detail"] == "Not authenticated - Invalid Authentication"
    url = fake.submit("flux-pro-1.1", {"prompt": "x"}).json()["polling_url"]
    assert fake.poll(url, key=None).status_code == 403
    assert fake.poll(url, key="nope").status_code == 403
    assert not fake.state.tasks[url.rsplit("=", 1)[1]].polls


def test_unknown_or_foreign_task_is_not_found(fake: Fake) -> None:
    unknown = fake.poll(f"{fake.base}/v1/get_result?id=does-not-exist")
    assert unknown.status_code == 404
    assert unknown.json() == {"id": "does-not-exist", "status": "Task not found", "result": None,
                              "progress": None, "details": None, "preview": None}  # fmt: skip
    fake.state.api_keys.add("other-key")
    url = fake.submit("flux-pro-1.1", {"prompt": "x"}).json()["polling_url"]
    assert fake.poll(url, key="other-key").json()["status"] == "Task not found"
    missing_id = fake.poll(f"{fake.base}/v1/get_result")
    assert missing_id.status_code == 422 and missing_id.json()["detail"][0]["loc"] == [
        "query",
        "id",
    ]


def test_expired_and_tampered_sample_links_answer_403(fake: Fake) -> None:
    fake.state.sample_ttl_seconds = 0.3
    sample = fake.run("flux-pro-1.1", {"prompt": "x", "output_format": "png"})[-1]["result"][
        "sample"
    ]
    assert open_image(fake.client.get(sample)).format == "PNG"
    tampered = fake.client.get(sample.replace("sig=", "sig=0"))
    assert tampered.status_code == 403 and b"AuthenticationFailed" in tampered.content
    time.sleep(0.35)
    expired = fake.client.get(sample)
    assert expired.status_code == 403 and expired.headers["content-type"] == "application/xml"
    assert b"<Code>AuthenticationFailed</Code>" in expired.content
    fake.state.sample_ttl_seconds = 0
    born_expired = fake.run("flux-pro-1.1", {"prompt": "y"})[-1]["result"]["sample"]
    assert fake.client.get(born_expired).status_code == 403


def test_out_of_credits_answers_402(fake: Fake) -> None:
    fake.state.credits = 5.0
    assert fake.submit("flux-pro-1.1", {"prompt": "x"}).status_code == 200  # costs 4
    short = fake.submit("flux-pro-1.1", {"prompt": "x"})
    assert short.status_code == 402 and short.json() == {"detail": "Insufficient credits"}
    assert fake.state.credits == 1.0 and fake.state.submissions["flux-pro-1.1"] == 1


def test_too_many_active_tasks_answers_429_until_one_finishes(fake: Fake) -> None:
    fake.state.max_active_tasks = 2
    first = fake.submit("flux-pro-1.1", {"prompt": "a"}).json()
    assert fake.submit("flux-dev", {"prompt": "b"}).status_code == 200
    limited = fake.submit("flux-pro-1.1", {"prompt": "c"})
    assert limited.status_code == 429 and limited.headers["retry-after"] == "5"
    assert limited.json() == {"error": "rate_limit_exceeded", "retry_after": 5,
                              "message": "Too many active tasks (limit 2)"}  # fmt: skip
    for _ in range(3):
        fake.poll(first["polling_url"])
    assert fake.submit("flux-pro-1.1", {"prompt": "c"}).status_code == 200


def test_kontext_max_has_its_own_limit_of_six(fake: Fake) -> None:
    codes = [fake.submit("flux-kontext-max", {"prompt": str(i)}).status_code for i in range(7)]
    assert codes == [200] * 6 + [429]
    assert fake.submit("flux-kontext-pro", {"prompt": "other model"}).status_code == 200


def test_webhook_submission_answers_without_polling_url(fake: Fake) -> None:
    body = {"prompt": "x", "webhook_url": "https://example.invalid/hook", "webhook_secret": "s"}
    answer = fake.submit("flux-pro-1.1", body).json()
    assert answer["status"] == "Pending" and answer["webhook_url"] == body["webhook_url"]
    assert "polling_url" not in answer
    url = f"{fake.base}/v1/get_result?id={answer['id']}"
    assert fake.poll(url).json()["status"] == "Pending"


def test_requests_are_recorded_with_base64_summarised(fake: Fake) -> None:
    picture = image_b64(48, 48)
    fake.submit("flux-kontext-pro", {"prompt": "edit", "input_image": picture})
    recorded = fake.state.requests[-1]
    assert recorded.method == "POST" and recorded.path == "/v1/flux-kontext-pro"
    assert recorded.headers["x-key"] == KEY
    assert recorded.body == {"prompt": "edit", "input_image": f"<base64 len={len(picture)}>"}
    data_url = "data:image/png;base64," + picture
    fake.submit("flux-kontext-pro", {"prompt": "edit", "input_image": data_url})
    assert picture not in repr(fake.state.requests)


# --- fault switches -------------------------------------------------------------------------


@pytest.mark.parametrize("status", [500, 502, 503, 401, 403])
def test_status_faults(fake: Fake, status: int) -> None:
    fake.state.faults.queue(f"status_{status}")
    failed = fake.submit("flux-pro-1.1", {"prompt": "x"})
    assert failed.status_code == status and "detail" in failed.json()
    assert fake.submit("flux-pro-1.1", {"prompt": "x"}).status_code == 200


def test_status_429_fault_sends_retry_after(fake: Fake) -> None:
    fake.state.faults.retry_after = 3
    url = fake.submit("flux-pro-1.1", {"prompt": "x"}).json()["polling_url"]
    fake.state.faults.queue("status_429")
    limited = fake.poll(url)
    assert limited.status_code == 429 and limited.headers["retry-after"] == "3"
    assert limited.json()["error"] == "rate_limit_exceeded"
    assert fake.poll(url).json()["status"] == "Pending"


def test_sticky_fault_hits_every_request_until_cleared(fake: Fake) -> None:
    fake.state.faults.sticky = "status_503"
    assert [fake.submit("flux-dev", {"prompt": "x"}).status_code for _ in range(3)] == [503] * 3
    fake.state.faults.sticky = None
    assert fake.submit("flux-dev", {"prompt": "x"}).status_code == 200


def test_timeout_fault_hangs_past_the_client_timeout(fake: Fake) -> None:
    fake.state.faults.hang_seconds = 1.0
    fake.state.faults.queue("timeout")
    with pytest.raises(httpx.ReadTimeout):
        fake.client.post(f"{fake.base}/v1/flux-pro-1.1", json={"prompt": "x"},
                         headers={"x-key": KEY}, timeout=0.3)  # fmt: skip
    assert fake.submit("flux-pro-1.1", {"prompt": "x"}).status_code == 200


def test_malformed_json_fault(fake: Fake) -> None:
    fake.state.faults.queue("malformed_json")
    response = fake.submit("flux-pro-1.1", {"prompt": "x"})
    assert response.status_code == 200
    with pytest.raises(orjson.JSONDecodeError):
        orjson.loads(response.content)


def test_truncated_fault_breaks_the_body(fake: Fake) -> None:
    url = fake.submit("flux-pro-1.1", {"prompt": "x"}).json()["polling_url"]
    fake.state.faults.queue("truncated")
    with pytest.raises(httpx.RemoteProtocolError):
        fake.poll(url)
    assert fake.poll(url).status_code == 200


def test_slow_drip_fault_still_delivers_a_valid_answer(fake: Fake) -> None:
    fake.state.faults.drip_delay = 0.05
    fake.state.faults.queue("slow_drip")
    started = time.monotonic()
    response = fake.submit("flux-pro-1.1", {"prompt": "x"})
    assert time.monotonic() - started >= 0.1  # > 128 bytes -> at least 3 chunks
    assert response.status_code == 200 and response.json()["polling_url"]


def test_faults_also_hit_the_sample_download(fake: Fake) -> None:
    sample = fake.run("flux-pro-1.1", {"prompt": "x", "width": 256, "height": 256})[-1]
    fake.state.faults.queue("status_503")
    assert fake.client.get(sample["result"]["sample"]).status_code == 503
    assert open_image(fake.client.get(sample["result"]["sample"])).size == (256, 256)


def test_fill_keeps_the_input_size_and_url_inputs_are_accepted(fake: Fake) -> None:
    filled = fake.run("flux-pro-1.0-fill", {"image": image_b64(96, 64), "prompt": "patch"})[-1]
    assert open_image(fake.client.get(filled["result"]["sample"])).size == (96, 64)
    by_url = {"prompt": "edit", "input_image": "https://example.invalid/in.png"}
    assert fake.submit("flux-kontext-pro", by_url).status_code == 200
    polls = [r for r in fake.state.requests if r.path == "/v1/get_result"]
    assert len(polls) == 3 and all(r.query["id"] for r in polls)
