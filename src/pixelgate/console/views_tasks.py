"""Tasks on the Requests page, and the JSON view its script polls to refresh them live.

`GET /console/tasks.json?ids=task_a,task_b` answers those tasks as the page shows them
(status, progress, times, cost, thumbnail links); without `ids`, the newest tasks, with
the page's `key` and `model` filters. It needs a console session and is scoped like every
page: the admin sees every key's tasks, a client key only its own — another key's task is
simply absent, as if it did not exist. Result images are signed links to `/v1/files/…`,
never base64.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from pixelgate.console import data_tasks
from pixelgate.console.data_tasks import TaskMoney, TaskRow
from pixelgate.console.web import SECURITY_HEADERS, Viewer, money_of, viewer
from pixelgate.dialects.tasks_v1 import status_of
from pixelgate.http.jsonio import JSONResponse
from pixelgate.http.runner import services_of
from pixelgate.tasks.models import TaskState

__all__ = ["PAGE_TASKS", "recent_task_rows", "task_rows", "tasks_json"]

PAGE_TASKS = 25
_STYLE = {TaskState.COMPLETED: "ok", TaskState.FAILED: "bad"}
_TIME = "%m-%d %H:%M:%S"
# How the task was asked for (its origin), unless it belongs to a /v2/extend/image family.
_ORIGINS = {"v1": "async: true", "v2": "/v2/extend/image", "sync": "sync request"}


def _cost(row: TaskRow, money: TaskMoney, fmt: Callable[[int], str]) -> str:
    if row.final:
        return fmt(money.cost) if money.cost else "—"
    return f"held {fmt(money.held)}" if money.held else "—"


async def task_rows(request: Request, rows: list[TaskRow]) -> list[dict[str, Any]]:
    """The tasks as the page and its script show them (one formatting for both)."""
    services = services_of(request)
    money = await data_tasks.task_money(services.engine, rows)
    fmt = money_of(request)
    now = int(datetime.now(UTC).timestamp())
    out = []
    for row in rows:
        status = status_of(row.state)
        error = ": ".join(x for x in (row.error_code, row.error_message) if x)
        out.append(
            {
                "id": row.id,
                "key_id": row.key_id,
                "model": row.model,
                "kind": row.family or _ORIGINS.get(row.origin, row.origin),
                "status": status,
                "state": row.state.value,
                "style": _STYLE.get(row.state, "warn"),
                "progress": 100 if row.state is TaskState.COMPLETED else row.progress,
                "created": row.created_at.strftime(_TIME),
                "updated": row.updated_at.strftime(_TIME),
                "cost": _cost(row, money.get(row.id, TaskMoney()), fmt),
                "thumbs": [
                    services.files.signed_path(image.file_id, image.expires_at)
                    for image in row.images
                    if image.expires_at > now
                ],
                "error": error[:300],
                "final": row.final,
            }
        )
    return out


def _key_filter(request: Request, who: Viewer) -> str | None:
    return (request.query_params.get("key") or None) if who.is_admin else who.key_id


async def recent_task_rows(request: Request, who: Viewer) -> list[dict[str, Any]]:
    """The newest tasks the viewer may see, with the page's key and model filters."""
    engine = services_of(request).engine
    model = request.query_params.get("model") or None
    rows = await data_tasks.recent_tasks(engine, _key_filter(request, who), model, PAGE_TASKS)
    return await task_rows(request, rows)


async def tasks_json(request: Request) -> Response:
    who = await viewer(request)
    if who is None:
        return JSONResponse(
            {"error": {"message": "Your console session has ended; sign in again."}},
            status_code=401,
            headers=SECURITY_HEADERS,
        )
    ids = [i for i in request.query_params.get("ids", "").split(",") if i]
    if ids:
        found = await data_tasks.tasks_by_id(services_of(request).engine, ids, who.scope)
        rows = await task_rows(request, found)
    else:
        rows = await recent_task_rows(request, who)
    return JSONResponse({"tasks": rows}, headers=SECURITY_HEADERS)
