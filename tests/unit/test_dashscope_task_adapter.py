"""The DashScope async (image-synthesis) task adapter on bytes alone: which models are
tasks, the submit body, and every way a poll can end."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from pixelgate.core.models import ImageInput, ImageRequest, Size
from pixelgate.errors import ContentPolicyError, UpstreamAuthError, UpstreamError
from pixelgate.providers.base import Route, TaskDone, TaskFailed, TaskPending, UpstreamResponse
from pixelgate.providers.base import UpstreamTask as Handle
from pixelgate.providers.dashscope import PROVIDER
from pixelgate.providers.dashscope.images import DashScopeImagesAdapter
from pixelgate.providers.dashscope.tasks import DashScopeTaskAdapter, is_task_model
from pixelgate.settings import DeploymentConfig, ProviderConfig

DS = DashScopeTaskAdapter()


def route(model: str) -> Route:
    provider = ProviderConfig(type="dashscope", base_url="http://ds.test/api/v1", api_key="sk-ds-1")
    return Route(DeploymentConfig(model=model, provider="p"), "p", provider)


def resp(body: Any, status: int = 200) -> UpstreamResponse:
    return UpstreamResponse(status, {}, orjson.dumps(body))


@pytest.mark.parametrize(
    ("model", "task"),
    [
        ("wan2.5-t2i-preview", True),
        ("wanx2.1-imageedit", True),
        ("wan2.2-t2i-flash", True),
        ("wanx-v1", True),
        ("wan2.6-t2i", False),
        ("wan2.7-image-pro", False),
        ("qwen-image-plus", False),
    ],
)
def test_models_served_as_tasks(model: str, task: bool) -> None:
    assert is_task_model(model) is task
    engine = PROVIDER.engine_for(route(model))
    assert isinstance(engine, DashScopeTaskAdapter if task else DashScopeImagesAdapter)


def test_canonical_submit_for_text_and_edit_models() -> None:
    req = ImageRequest(
        model="x", prompt="fox", n=2, size=Size(1024, 768), seed=7, negative_prompt="blur"
    )
    sent = DS.submit_request(req, route("wanx2.1-t2i-turbo"), "task_1")
    assert sent.url == "http://ds.test/api/v1/services/aigc/text2image/image-synthesis"
    assert sent.headers["X-DashScope-Async"] == "enable"
    assert sent.headers["Authorization"] == "Bearer sk-ds-1"
    assert orjson.loads(sent.content or b"") == {
        "model": "wanx2.1-t2i-turbo",
        "input": {"prompt": "fox", "negative_prompt": "blur"},
        "parameters": {"n": 2, "size": "1024*768", "seed": 7},
    }
    png = b"\x89PNG\r\n\x1a\n" + b"0" * 8
    edit = ImageRequest(
        model="x", prompt="blue", images=(ImageInput(data=png),), mask=ImageInput(url="http://m")
    )
    sent = DS.submit_request(edit, route("wanx2.1-imageedit"), "task_2")
    assert sent.url.endswith("/services/aigc/image2image/image-synthesis")
    body = orjson.loads(sent.content or b"")
    assert body["input"]["function"] == "description_edit_with_mask"
    assert body["input"]["base_image_url"].startswith("data:image/png;base64,")
    assert body["input"]["mask_image_url"] == "http://m"


def test_submit_answers() -> None:
    r = route("wan2.5-t2i-preview")
    ok = {"request_id": "r", "output": {"task_id": "t-1", "task_status": "PENDING"}}
    assert DS.parse_submit(resp(ok), r) == Handle("t-1")
    with pytest.raises(UpstreamAuthError):  # an error inside a 200
        DS.parse_submit(resp({"code": "InvalidApiKey", "message": "bad"}), r)
    with pytest.raises(UpstreamError):
        DS.parse_submit(resp({"request_id": "r", "output": {}}), r)
    poll = DS.poll_request(Handle("t-1"), r)
    assert (poll.method, poll.url) == ("GET", "http://ds.test/api/v1/tasks/t-1")


def test_poll_outcomes() -> None:
    r, t = route("wan2.5-t2i-preview"), Handle("t-1")

    def poll(output: dict[str, Any], status: int = 200) -> Any:
        return DS.parse_poll(resp({"request_id": "r", "output": output}, status), t, r)

    assert poll({"task_status": "PENDING"}) == TaskPending()
    assert poll({"task_status": "RUNNING"}) == TaskPending()
    done = poll(
        {
            "task_status": "SUCCEEDED",
            "results": [{"url": "http://oss/1.png"}, {"code": "InternalError", "message": "x"}],
        }
    )
    assert isinstance(done, TaskDone)
    assert [i.url for i in done.result.images] == ["http://oss/1.png"]  # only produced ones
    failed = poll({"task_status": "FAILED", "code": "DataInspectionFailed", "message": "no"})
    assert isinstance(failed, TaskFailed) and isinstance(failed.error, ContentPolicyError)
    for status in ("UNKNOWN", "CANCELED"):
        gone = poll({"task_status": status})
        assert isinstance(gone, TaskFailed) and isinstance(gone.error, UpstreamError)
    nothing = poll({"task_status": "SUCCEEDED", "results": [{"code": "X", "message": "m"}]})
    assert isinstance(nothing, TaskFailed) and "m" in nothing.error.message
    with pytest.raises(UpstreamError):
        DS.parse_poll(resp({"code": "InternalError", "message": "boom"}, 500), t, r)
