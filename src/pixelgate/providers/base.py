"""What a provider is: a pure HTTP adapter (to_upstream / from_upstream / map_error) that the
executor drives, a local engine that produces images in-process (the sandbox), or a task
adapter for upstreams that accept work and are polled for it (BFL, Midjourney proxies,
DashScope async) — the task worker drives those."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import orjson
from pydantic import SecretStr

from pixelgate.core.models import ImageRequest, ImageResult
from pixelgate.core.streaming import SseEvent, StreamEvent
from pixelgate.errors import GatewayError, UpstreamBadResponse
from pixelgate.settings import DeploymentConfig, ProviderConfig, Timeouts

__all__ = [
    "Engine",
    "HttpAdapter",
    "LocalEngine",
    "ProviderSpec",
    "Route",
    "StreamingAdapter",
    "StreamingEngine",
    "TaskActions",
    "TaskAdapter",
    "TaskDone",
    "TaskFailed",
    "TaskPending",
    "TaskPoll",
    "TaskRecovery",
    "UpstreamRequest",
    "UpstreamResponse",
    "UpstreamTask",
    "json_body",
    "json_object",
]


@dataclass(frozen=True, slots=True)
class Route:
    """One way to serve a request: a deployment on a configured provider, with the upstream
    credential chosen for this call."""

    deployment: DeploymentConfig
    provider_name: str
    provider: ProviderConfig
    credential: SecretStr | None = None
    credential_index: int | None = None
    index: int = 0

    @property
    def upstream_model(self) -> str:
        return self.deployment.target_model

    @property
    def api_key(self) -> SecretStr | None:
        return self.credential or self.provider.api_key

    @property
    def timeouts(self) -> Timeouts:
        return self.deployment.timeouts or self.provider.timeouts

    @property
    def name(self) -> str:
        return f"{self.provider_name}/{self.upstream_model}"

    @property
    def secrets(self) -> tuple[str, ...]:
        """Credential values of this route, for redaction from anything a client sees."""
        values = [v.get_secret_value() for v in self.provider.headers.values()]
        values += [k.get_secret_value() for k in self.provider.api_keys]
        if self.provider.api_key is not None:
            values.append(self.provider.api_key.get_secret_value())
        return tuple(v for v in values if len(v) >= 4)


@dataclass(frozen=True, slots=True)
class UpstreamRequest:
    method: str
    url: str
    headers: dict[str, str] = field(default_factory=dict)
    content: bytes | None = None
    params: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class UpstreamResponse:
    status: int
    headers: dict[str, str]
    body: bytes


def json_body(resp: UpstreamResponse, route: Route) -> Any:
    """The upstream's JSON answer (None for an empty body), or UpstreamBadResponse."""
    try:
        return orjson.loads(resp.body) if resp.body.strip() else None
    except orjson.JSONDecodeError:
        raise UpstreamBadResponse(f"The upstream of {route.name} sent invalid JSON.") from None


def json_object(resp: UpstreamResponse, route: Route) -> dict[str, Any]:
    """The upstream's JSON answer, which must be an object."""
    body = json_body(resp, route)
    if not isinstance(body, dict):
        raise UpstreamBadResponse(f"The upstream of {route.name} sent an unexpected answer.")
    return body


@runtime_checkable
class HttpAdapter(Protocol):
    """Pure translation between the canonical form and one upstream's wire protocol."""

    def to_upstream(self, req: ImageRequest, route: Route) -> UpstreamRequest: ...

    def from_upstream(
        self, resp: UpstreamResponse, req: ImageRequest, route: Route
    ) -> ImageResult: ...

    def map_error(self, resp: UpstreamResponse, route: Route) -> GatewayError: ...


@runtime_checkable
class LocalEngine(Protocol):
    """Produces images in-process, without network I/O."""

    async def run(self, req: ImageRequest, route: Route) -> ImageResult: ...


@runtime_checkable
class StreamingAdapter(Protocol):
    """An HTTP adapter that can also stream (optional capability)."""

    def stream_request(self, req: ImageRequest, route: Route) -> UpstreamRequest: ...

    def parse_event(self, event: SseEvent, req: ImageRequest, route: Route) -> list[StreamEvent]:
        """Events for one upstream SSE event; raises a GatewayError for an error event."""
        ...


@runtime_checkable
class StreamingEngine(Protocol):
    """A local engine that can also stream (optional capability)."""

    def stream(self, req: ImageRequest, route: Route) -> AsyncIterator[StreamEvent]: ...


@dataclass(frozen=True, slots=True)
class UpstreamTask:
    """The upstream's handle on accepted work. `data` (e.g. BFL's polling_url, the reported
    cost) is persisted with the task, so it stays small, flat and free of secrets."""

    id: str
    data: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class TaskPending:
    """Not finished yet; `progress` in percent when the upstream tells."""

    progress: int | None = None


@dataclass(frozen=True, slots=True)
class TaskDone:
    """Finished: images as URLs (fetched at once by the worker) or bytes. `actions` are
    follow-up actions the upstream offers on this result (Midjourney's U1…V4 buttons), by
    label → the upstream's own id for it."""

    result: ImageResult
    actions: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class TaskFailed:
    error: GatewayError


TaskPoll = TaskPending | TaskDone | TaskFailed


@runtime_checkable
class TaskAdapter(Protocol):
    """Pure translation for a task-based upstream: submit once, then poll until done.

    `marker` is the gateway's task id; adapters whose upstream echoes an opaque field send it
    along so an interrupted submit can be found again (see TaskRecovery).
    """

    def submit_request(self, req: ImageRequest, route: Route, marker: str) -> UpstreamRequest: ...

    def parse_submit(self, resp: UpstreamResponse, route: Route) -> UpstreamTask:
        """The accepted task; raises a GatewayError when the upstream refused it."""
        ...

    def poll_request(self, task: UpstreamTask, route: Route) -> UpstreamRequest: ...

    def parse_poll(self, resp: UpstreamResponse, task: UpstreamTask, route: Route) -> TaskPoll:
        """The task's state; raises a GatewayError when the poll itself failed."""
        ...

    def map_error(self, resp: UpstreamResponse, route: Route) -> GatewayError: ...


@runtime_checkable
class TaskRecovery(Protocol):
    """Optional: find a submission by its marker, so a submit interrupted by a crash (sent,
    answer never recorded) is looked up instead of being sent a second time."""

    def find_request(self, marker: str, route: Route) -> UpstreamRequest: ...

    def parse_find(
        self, resp: UpstreamResponse, marker: str, route: Route
    ) -> UpstreamTask | None: ...


@runtime_checkable
class TaskActions(Protocol):
    """Optional: follow-up work on a finished task (Midjourney upscale / variation)."""

    def action_request(
        self, parent: UpstreamTask, action: str, route: Route, marker: str
    ) -> UpstreamRequest: ...


Engine = LocalEngine | HttpAdapter | TaskAdapter


@dataclass(frozen=True, slots=True)
class ProviderSpec:
    type: str
    engine: Engine
    description: str = ""
    # Images one upstream call can return; the pipeline fans larger `n` out (None: any n).
    images_per_call: int | None = None
    # Upstream models served another way than `engine` (DashScope's older Wan models exist
    # only as submit-and-poll tasks): the engine for a model id, or None for `engine`.
    model_engine: Callable[[str], Engine | None] | None = None

    def engine_for(self, route: Route) -> Engine:
        """The engine that serves this route's upstream model."""
        if self.model_engine is not None:
            other = self.model_engine(route.upstream_model)
            if other is not None:
                return other
        return self.engine
