"""The v1 task contract (seed 003): `async: true` on /v1/images/* and `GET /v1/tasks/{id}`.

Create answer::

    {"created": 1760000000, "task_id": "task_…", "status": "pending",
     "poll_url": "/v1/tasks/task_…", "data": []}

Task answer (`status` pending → processing → completed | failed)::

    {"task_id": "task_…", "object": "image.task", "created": 1760000000, "model": "flux-dev",
     "status": "completed", "progress": 100, "poll_url": "/v1/tasks/task_…",
     "data": [{"url": "https://gw/v1/files/img_…?exp=…&sig=…"}], "error": null}

Completed tasks always answer with URLs, whatever `response_format` said. Errors of the
endpoints themselves are OpenAI-shaped (see openai_images.render_error).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pixelgate.dialects.fields import opt_bool, opt_str
from pixelgate.errors import InvalidParameter
from pixelgate.tasks.models import Task, TaskState

__all__ = [
    "AsyncOptions",
    "parse_options",
    "poll_url",
    "public_status",
    "render_created",
    "render_task",
    "status_of",
]

_STATUS = {
    TaskState.QUEUED: "pending",
    TaskState.SUBMITTING: "pending",
    TaskState.RUNNING: "processing",
    TaskState.COMPLETED: "completed",
    TaskState.FAILED: "failed",
}


@dataclass(frozen=True, slots=True)
class AsyncOptions:
    run_async: bool = False
    callback_url: str | None = None


def parse_options(native: dict[str, Any], form: bool = False) -> AsyncOptions:
    """`async` and `callback_url` from a request body (JSON or multipart fields)."""
    run_async = bool(opt_bool(native, "async", form))
    callback = opt_str(native, "callback_url")
    if callback is not None and not run_async:
        raise InvalidParameter("callback_url needs async: true.", param="callback_url")
    return AsyncOptions(run_async, callback)


def status_of(state: TaskState) -> str:
    """The public status (pending, processing, completed, failed) of a task state."""
    return _STATUS[state]


def public_status(task: Task) -> str:
    return status_of(task.state)


def poll_url(task: Task) -> str:
    return f"/v1/tasks/{task.id}"


def render_created(task: Task) -> dict[str, Any]:
    return {
        "created": int(task.created_at.timestamp()),
        "task_id": task.id,
        "status": "pending",
        "poll_url": poll_url(task),
        "data": [],
    }


def render_task(task: Task, urls: list[str]) -> dict[str, Any]:
    status = public_status(task)
    body: dict[str, Any] = {
        "task_id": task.id,
        "object": "image.task",
        "created": int(task.created_at.timestamp()),
        "model": task.model,
        "status": status,
        "progress": 100 if status == "completed" else task.progress,
        "poll_url": poll_url(task),
        "data": [{"url": url} for url in urls] if status == "completed" else [],
        "error": None,
    }
    if task.state is TaskState.FAILED:
        body["error"] = {"code": task.error_code, "message": task.error_message}
    if task.result is not None and task.result.actions:
        body["actions"] = sorted(task.result.actions)
    return body
