"""Structured logs: one JSON object per line, carrying the request id of the request being
served (the same id the client gets as `X-Request-Id` and the usage row stores).

`PIXELGATE_LOG_FORMAT=text` keeps the plain format for a terminal. Messages never hold
image data or keys: callers log ids, counts and codes only.
"""

from __future__ import annotations

import logging
import sys
import time
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

import orjson

from pixelgate.core.context import RequestContext

__all__ = ["JsonFormatter", "access_log", "bind_request_id", "configure_logging"]

_request_id: ContextVar[str | None] = ContextVar("pixelgate_request_id", default=None)
_access = logging.getLogger("pixelgate.access")
# Attributes every LogRecord has; anything else was passed with `extra=` and is kept.
_STANDARD = set(vars(logging.makeLogRecord({}))) | {
    "message",
    "asctime",
    "taskName",
    "color_message",
}


def bind_request_id(request_id: str) -> None:
    """Tag every log line of the current request (its asyncio task) with its id."""
    _request_id.set(request_id)


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        request_id = getattr(record, "request_id", None) or _request_id.get()
        if request_id:
            entry["request_id"] = request_id
        for key, value in vars(record).items():
            if key not in _STANDARD and key not in entry:
                entry[key] = value
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return orjson.dumps(entry, default=str).decode()


def configure_logging(level: str, fmt: str = "json") -> None:
    """Root handler on stderr; uvicorn's loggers propagate to it (see cli.serve)."""
    handler = logging.StreamHandler(sys.stderr)
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())


def access_log(ctx: RequestContext, status: int, error_code: str | None) -> None:
    """One line per answered request: who, what, where it went, how it ended."""
    if not _access.isEnabledFor(logging.INFO):
        return
    _access.info(
        "request",
        extra={
            "request_id": ctx.request_id,
            "key_id": ctx.key_id,
            "dialect": ctx.dialect,
            "endpoint": ctx.endpoint,
            "model": ctx.model,
            "deployment": ctx.deployment,
            "status": status,
            "error_code": error_code,
            "latency_ms": int((time.monotonic() - ctx.started) * 1000),
            "images": ctx.images,
        },
    )
