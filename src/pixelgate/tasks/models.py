"""The task row as the rest of the gateway sees it, and its states."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

import orjson

__all__ = [
    "ACTIVE_STATES",
    "FINAL_STATES",
    "CallbackState",
    "Origin",
    "StoredImage",
    "Task",
    "TaskResult",
    "TaskState",
    "aware",
]


class TaskState(StrEnum):
    """queued → submitting → running → completed | failed (any active state may fail).

    `submitting` is written *before* the upstream submit is sent: finding a task in it
    after a crash means the submit may or may not have reached the upstream."""

    QUEUED = "queued"
    SUBMITTING = "submitting"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"


ACTIVE_STATES = (TaskState.QUEUED, TaskState.SUBMITTING, TaskState.RUNNING)
FINAL_STATES = (TaskState.COMPLETED, TaskState.FAILED)


class Origin(StrEnum):
    """Which client contract created the task (decides the webhook body's shape)."""

    V1 = "v1"  # `async: true` on /v1/images/*
    V2 = "v2"  # /v2/extend/image/*
    SYNC = "sync"  # a sync request to a task-based upstream
    DASHSCOPE = "dashscope"  # DashScope's async API (X-DashScope-Async: enable)


class CallbackState(StrEnum):
    PENDING = "pending"
    DELIVERED = "delivered"
    FAILED = "failed"


def aware(value: datetime) -> datetime:
    """SQLite hands datetimes back naive; every stored time is UTC."""
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class StoredImage:
    """One result image in the gateway's file store (signed into a URL when read)."""

    file_id: str
    content_type: str
    expires_at: int
    width: int = 0
    height: int = 0
    size_bytes: int = 0


@dataclass(frozen=True, slots=True)
class TaskResult:
    images: tuple[StoredImage, ...]
    # Follow-up actions offered on the result (label → upstream id), e.g. Midjourney's U1.
    actions: dict[str, str] = field(default_factory=dict)
    # What the upstream said the work cost, in micro-USD, when it says.
    upstream_cost_micros: int | None = None

    def dumps(self) -> str:
        return orjson.dumps(
            {
                "images": [
                    {
                        "file_id": i.file_id,
                        "content_type": i.content_type,
                        "expires_at": i.expires_at,
                        "width": i.width,
                        "height": i.height,
                        "size_bytes": i.size_bytes,
                    }
                    for i in self.images
                ],
                "actions": self.actions,
                "upstream_cost_micros": self.upstream_cost_micros,
            }
        ).decode()

    @classmethod
    def loads(cls, text: str) -> TaskResult:
        raw: dict[str, Any] = orjson.loads(text)
        images = tuple(StoredImage(**item) for item in raw.get("images", []))
        return cls(images, dict(raw.get("actions") or {}), raw.get("upstream_cost_micros"))


@dataclass(frozen=True, slots=True)
class Task:
    id: str
    key_id: str
    origin: Origin
    family: str | None
    model: str
    deployment: str | None
    credential_index: int | None
    request: str
    state: TaskState
    progress: int | None
    upstream_id: str | None
    upstream_meta: dict[str, str]
    attempts: int
    polls: int
    fetch_failures: int
    next_poll_at: datetime
    lease_owner: str | None
    lease_until: datetime | None
    deadline: datetime
    result: TaskResult | None
    error_type: str | None
    error_code: str | None
    error_message: str | None
    callback_url: str | None
    callback_state: CallbackState | None
    callback_attempts: int
    base_url: str
    created_at: datetime
    updated_at: datetime
    finished_at: datetime | None

    @property
    def final(self) -> bool:
        return self.state in FINAL_STATES

    @classmethod
    def from_row(cls, row: Any) -> Task:
        m = row._mapping
        return cls(
            id=m["id"],
            key_id=m["key_id"],
            origin=Origin(m["origin"]),
            family=m["family"],
            model=m["model"],
            deployment=m["deployment"],
            credential_index=m["credential_index"],
            request=m["request"],
            state=TaskState(m["state"]),
            progress=m["progress"],
            upstream_id=m["upstream_id"],
            upstream_meta=orjson.loads(m["upstream_meta"]) if m["upstream_meta"] else {},
            attempts=m["attempts"],
            polls=m["polls"],
            fetch_failures=m["fetch_failures"],
            next_poll_at=aware(m["next_poll_at"]),
            lease_owner=m["lease_owner"],
            lease_until=aware(m["lease_until"]) if m["lease_until"] else None,
            deadline=aware(m["deadline"]),
            result=TaskResult.loads(m["result"]) if m["result"] else None,
            error_type=m["error_type"],
            error_code=m["error_code"],
            error_message=m["error_message"],
            callback_url=m["callback_url"],
            callback_state=CallbackState(m["callback_state"]) if m["callback_state"] else None,
            callback_attempts=m["callback_attempts"],
            base_url=m["base_url"],
            created_at=aware(m["created_at"]),
            updated_at=aware(m["updated_at"]),
            finished_at=aware(m["finished_at"]) if m["finished_at"] else None,
        )
