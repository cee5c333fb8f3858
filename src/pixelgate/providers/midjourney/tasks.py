"""midjourney-proxy task adapter: `POST {base}/mj/submit/imagine`, `GET /mj/task/{id}/fetch`.

Example submit::

    POST http://proxy:8080/mj/submit/imagine
    mj-api-secret: …
    {"prompt": "a pig --ar 16:9", "base64Array": ["data:image/png;base64,…"],
     "state": "task_5f1c…"}
    -> {"code": 1, "description": "提交成功", "result": "1730621826053455",
        "properties": {"discordInstanceId": "1118…"}}

Example poll::

    GET http://proxy:8080/mj/task/1730621826053455/fetch
    -> {"id": "1730621826053455", "status": "SUCCESS", "progress": "100%",
        "imageUrl": "https://cdn.discordapp.com/…/grid_0.png", "failReason": null,
        "buttons": [{"customId": "MJ::JOB::upsample::1::…", "label": "U1"}, …], …}

Statuses NOT_START / SUBMITTED / IN_PROGRESS (progress "45%") keep polling; SUCCESS gives
the grid image (copied at once: Discord links expire); FAILURE / CANCEL fail the task.
Submit codes: 1 and 22 (queued) accepted, 21 an existing task, 23 queue full (retried
later), 24 banned prompt, 4 validation, 3 parent task missing.

The gateway's task id travels as the proxy's opaque `state` field, so a submit that a crash
interrupted is found again in `GET /mj/task/list` instead of being sent twice. `base_url`
is the proxy's root (`/mj` is appended); `api_key` is sent as `mj-api-secret`.
"""

from __future__ import annotations

import base64
import re
from typing import Any

import orjson

from pixelgate.core.models import GeneratedImage, ImageFormat, ImageRequest, ImageResult
from pixelgate.errors import (
    ContentPolicyError,
    GatewayError,
    RequestError,
    UpstreamAuthError,
    UpstreamBadResponse,
    UpstreamError,
    UpstreamRateLimited,
    UpstreamUnavailable,
)
from pixelgate.providers.base import (
    Route,
    TaskDone,
    TaskFailed,
    TaskPending,
    TaskPoll,
    UpstreamRequest,
    UpstreamResponse,
    UpstreamTask,
    json_body,
)
from pixelgate.providers.openai.endpoint import extra_headers

__all__ = ["MidjourneyTaskAdapter"]

_ACCEPTED = (1, 21, 22)
_PROGRESS = re.compile(r"(\d{1,3})")
# Client fields passed through (as the model's contract allows); the rest is ours.
_PASSTHROUGH = frozenset({"botType", "accountFilter"})


def _base(route: Route) -> str:
    if route.provider.base_url is None:
        raise UpstreamError(f"Deployment {route.name} has no base_url for its proxy.")
    return route.provider.base_url.removesuffix("/mj") + "/mj"


def _headers(route: Route) -> dict[str, str]:
    headers = extra_headers(route) | {"Content-Type": "application/json"}
    if route.api_key is not None:
        headers["mj-api-secret"] = route.api_key.get_secret_value()
    return headers


def _prompt(req: ImageRequest) -> str:
    """Midjourney takes its options as prompt flags."""
    prompt = req.prompt.strip()
    if req.aspect_ratio and not re.search(r"--(ar|aspect)\b", prompt):
        prompt += f" --ar {req.aspect_ratio}"
    if req.seed is not None and "--seed" not in prompt:
        prompt += f" --seed {req.seed}"
    if req.negative_prompt and "--no " not in prompt:
        prompt += f" --no {req.negative_prompt}"
    return prompt


def _data_url(data: bytes, content_type: str | None) -> str:
    mime = content_type if content_type and content_type.startswith("image/") else "image/png"
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"


def _progress(value: Any) -> int | None:
    match = _PROGRESS.search(value) if isinstance(value, str) else None
    return min(99, int(match.group(1))) if match else None


def _actions(task: dict[str, Any]) -> dict[str, str]:
    """Labelled buttons (U1…U4, V1…V4) by label → customId."""
    found = {}
    for button in task.get("buttons") or []:
        if not isinstance(button, dict):
            continue
        label, custom = button.get("label"), button.get("customId")
        if isinstance(label, str) and re.fullmatch(r"[UV][1-4]", label) and isinstance(custom, str):
            found[label] = custom
    return found


class MidjourneyTaskAdapter:
    def submit_request(self, req: ImageRequest, route: Route, marker: str) -> UpstreamRequest:
        body: dict[str, Any] = {k: v for k, v in req.upstream_params.items() if k in _PASSTHROUGH}
        body["prompt"] = _prompt(req)
        body["state"] = marker
        if req.images:
            body["base64Array"] = [
                _data_url(i.data, i.content_type) for i in req.images if i.data is not None
            ]
        url = f"{_base(route)}/submit/imagine"
        return UpstreamRequest("POST", url, _headers(route), orjson.dumps(body))

    def action_request(
        self, parent: UpstreamTask, action: str, route: Route, marker: str
    ) -> UpstreamRequest:
        body = {"taskId": parent.id, "customId": action, "state": marker}
        url = f"{_base(route)}/submit/action"
        return UpstreamRequest("POST", url, _headers(route), orjson.dumps(body))

    def parse_submit(self, resp: UpstreamResponse, route: Route) -> UpstreamTask:
        if resp.status >= 400 and resp.status != 404:
            raise self.map_error(resp, route)
        body = json_body(resp, route)
        if not isinstance(body, dict):
            raise UpstreamBadResponse(f"The upstream of {route.name} sent an unexpected answer.")
        code = body.get("code")
        message = str(body.get("description") or "")
        result = body.get("result")
        if code in _ACCEPTED and isinstance(result, str | int) and str(result):
            return UpstreamTask(str(result))
        if code == 23:
            raise UpstreamRateLimited(f"The queue of {route.name} is full; try again later.")
        if code == 24:
            word = (body.get("properties") or {}).get("bannedWord")
            why = f" ({word!r})" if word else ""
            raise ContentPolicyError(
                f"The prompt contains a banned word{why}.", code="banned_prompt"
            )
        if code == 4:
            raise RequestError(f"The upstream refused the request: {message}")
        if code == 3:
            raise RequestError(f"The upstream no longer knows the task to act on: {message}")
        raise UpstreamError(f"The upstream of {route.name} failed (code {code}): {message}")

    def poll_request(self, task: UpstreamTask, route: Route) -> UpstreamRequest:
        url = f"{_base(route)}/task/{task.id}/fetch"
        return UpstreamRequest("GET", url, _headers(route))

    def parse_poll(self, resp: UpstreamResponse, task: UpstreamTask, route: Route) -> TaskPoll:
        if resp.status >= 400:
            raise self.map_error(resp, route)
        body = json_body(resp, route)
        if body is None:
            return TaskFailed(
                UpstreamError(
                    f"The upstream no longer knows task {task.id}.",
                    code="upstream_task_not_found",
                )
            )
        if not isinstance(body, dict):
            raise UpstreamBadResponse(f"The upstream of {route.name} sent an unexpected answer.")
        status = body.get("status")
        if status == "SUCCESS":
            url = body.get("imageUrl")
            if not isinstance(url, str) or not url:
                raise UpstreamBadResponse(f"The upstream of {route.name} sent no imageUrl.")
            image = GeneratedImage(None, ImageFormat.PNG, url=url)
            return TaskDone(ImageResult(images=(image,)), _actions(body))
        if status in ("FAILURE", "CANCEL"):
            reason = body.get("failReason") or status.lower()
            return TaskFailed(
                UpstreamError(f"The upstream task failed: {reason}", code="upstream_task_failed")
            )
        return TaskPending(_progress(body.get("progress")))

    def find_request(self, marker: str, route: Route) -> UpstreamRequest:
        return UpstreamRequest("GET", f"{_base(route)}/task/list", _headers(route))

    def parse_find(self, resp: UpstreamResponse, marker: str, route: Route) -> UpstreamTask | None:
        body = json_body(resp, route)
        if not isinstance(body, list):
            raise UpstreamBadResponse(f"The upstream of {route.name} sent an unexpected list.")
        for item in body:
            if isinstance(item, dict) and item.get("state") == marker and item.get("id"):
                return UpstreamTask(str(item["id"]))
        return None

    def map_error(self, resp: UpstreamResponse, route: Route) -> GatewayError:
        status = resp.status
        if status in (401, 403):
            return UpstreamAuthError(
                f"The upstream rejected the credentials of deployment {route.name} "
                f"(HTTP {status}); the gateway operator has to fix them."
            )
        if status == 429:
            return UpstreamRateLimited(f"The upstream of {route.name} is rate limiting.")
        if status == 400:
            return RequestError("The upstream refused the request.")
        if status == 503:
            return UpstreamUnavailable(f"The upstream of {route.name} is unavailable (HTTP 503).")
        return UpstreamError(f"The upstream of {route.name} failed (HTTP {status}).")
