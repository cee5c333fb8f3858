"""The BFL and midjourney-proxy task adapters on bytes alone (they are pure)."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from pixelgate.core.models import ImageRequest
from pixelgate.errors import (
    ContentPolicyError,
    InvalidParameter,
    UpstreamAuthError,
    UpstreamError,
    UpstreamRateLimited,
)
from pixelgate.providers.base import (
    Route,
    TaskDone,
    TaskFailed,
    TaskPending,
    UpstreamResponse,
    UpstreamTask,
)
from pixelgate.providers.bfl.tasks import BflTaskAdapter
from pixelgate.providers.midjourney.tasks import MidjourneyTaskAdapter
from pixelgate.settings import DeploymentConfig, ProviderConfig

BFL = BflTaskAdapter()
MJ = MidjourneyTaskAdapter()


def route(kind: str, model: str) -> Route:
    provider = ProviderConfig(type=kind, base_url="http://up.test", api_key="secret-key-1")
    return Route(DeploymentConfig(model=model, provider="p"), "p", provider)


def resp(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> UpstreamResponse:
    raw = body if isinstance(body, bytes) else orjson.dumps(body)
    return UpstreamResponse(status, headers or {}, raw)


def test_bfl_submit_and_cost() -> None:
    r = route("bfl", "flux-pro-1.1")
    req = ImageRequest(model="flux-pro-1.1", prompt="fox", upstream_params={"raw": True})
    sent = BFL.submit_request(req, r, "task_1")
    assert sent.url == "http://up.test/v1/flux-pro-1.1" and sent.headers["x-key"] == "secret-key-1"
    assert orjson.loads(sent.content or b"") == {"raw": True, "prompt": "fox"}
    task = BFL.parse_submit(
        resp({"id": "abc", "polling_url": "http://eu.test/r?id=abc", "cost": 4.5}), r
    )
    assert task == UpstreamTask(
        "abc", {"polling_url": "http://eu.test/r?id=abc", "cost_micros": "45000"}
    )
    assert BFL.poll_request(task, r).url == "http://eu.test/r?id=abc"


@pytest.mark.parametrize(
    ("body", "status", "expected"),
    [
        ({"status": "Pending", "progress": 0.42}, 200, TaskPending(42)),
        ({"status": "Generating"}, 200, TaskPending()),
        ({"status": "Error", "details": {"error": "boom"}}, 200, "upstream_generation_error"),
        ({"status": "Content Moderated"}, 200, "content_moderated"),
        ({"status": "Request Moderated"}, 200, "request_moderated"),
        ({"status": "Task not found"}, 404, "upstream_task_not_found"),
    ],
)
def test_bfl_poll_states(body: dict[str, Any], status: int, expected: object) -> None:
    got = BFL.parse_poll(resp(body, status), UpstreamTask("abc", {}), route("bfl", "flux-dev"))
    if isinstance(expected, str):
        assert isinstance(got, TaskFailed) and got.error.error_code == expected
    else:
        assert got == expected


def test_bfl_ready_gives_the_sample_url() -> None:
    body = {"status": "Ready", "result": {"sample": "https://delivery.test/s.jpeg?sig=1"}}
    got = BFL.parse_poll(
        resp(body), UpstreamTask("abc", {"cost_micros": "40000"}), route("bfl", "x")
    )
    assert isinstance(got, TaskDone)
    assert got.result.images[0].url == "https://delivery.test/s.jpeg?sig=1"
    assert got.result.usage is not None and got.result.usage.upstream_cost_micros == 40000


@pytest.mark.parametrize(
    ("status", "body", "headers", "kind"),
    [
        (403, {"detail": "Not authenticated"}, {}, UpstreamAuthError),
        (429, {"error": "rate_limit_exceeded", "retry_after": 7}, {}, UpstreamRateLimited),
        (422, {"detail": [{"loc": ["body", "width"], "msg": "bad"}]}, {}, InvalidParameter),
        (402, {"detail": "Insufficient credits"}, {}, UpstreamError),
    ],
)
def test_bfl_errors(status: int, body: Any, headers: dict[str, str], kind: type) -> None:
    err = BFL.map_error(resp(body, status, headers), route("bfl", "flux-dev"))
    assert isinstance(err, kind)
    if status == 429:
        assert err.retry_after == 7
    if status == 422:
        assert err.param == "width"


@pytest.mark.parametrize(
    ("body", "outcome"),
    [
        ({"code": 1, "result": "171"}, "171"),
        ({"code": 22, "result": "172", "properties": {"numberOfQueues": 2}}, "172"),
        ({"code": 23, "result": None}, UpstreamRateLimited),
        ({"code": 24, "properties": {"bannedWord": "x"}}, ContentPolicyError),
        ({"code": 9, "description": "boom"}, UpstreamError),
    ],
)
def test_midjourney_submit_codes(body: dict[str, Any], outcome: object) -> None:
    r = route("midjourney", "midjourney")
    if isinstance(outcome, str):
        assert MJ.parse_submit(resp(body), r) == UpstreamTask(outcome)
    else:
        with pytest.raises(outcome):  # type: ignore[call-overload]
            MJ.parse_submit(resp(body), r)


def test_midjourney_prompt_flags_secret_and_polls() -> None:
    r = route("midjourney", "midjourney")
    req = ImageRequest(model="midjourney", prompt="pig", aspect_ratio="16:9", seed=7)
    sent = MJ.submit_request(req, r, "task_9")
    assert sent.url == "http://up.test/mj/submit/imagine"
    assert sent.headers["mj-api-secret"] == "secret-key-1"
    assert orjson.loads(sent.content or b"") == {
        "prompt": "pig --ar 16:9 --seed 7",
        "state": "task_9",
    }
    task = UpstreamTask("171")
    assert MJ.poll_request(task, r).url == "http://up.test/mj/task/171/fetch"
    assert MJ.parse_poll(
        resp({"status": "IN_PROGRESS", "progress": "45%"}), task, r
    ) == TaskPending(45)
    assert isinstance(MJ.parse_poll(resp(b""), task, r), TaskFailed)
    done = MJ.parse_poll(
        resp({"status": "SUCCESS", "imageUrl": "http://cdn.test/g.png", "buttons": [
            {"customId": "MJ::JOB::upsample::1::h", "label": "U1"},
            {"customId": "MJ::JOB::reroll::0::h::SOLO", "label": ""}]}),
        task, r,
    )  # fmt: skip
    assert isinstance(done, TaskDone) and done.actions == {"U1": "MJ::JOB::upsample::1::h"}
    found = MJ.parse_find(
        resp([{"id": "1", "state": "x"}, {"id": "2", "state": "task_9"}]), "task_9", r
    )
    assert found == UpstreamTask("2")
    assert MJ.parse_find(resp([]), "task_9", r) is None
