"""What a provider is: a pure HTTP adapter (to_upstream / from_upstream / map_error) that the
executor drives, or a local engine that produces images in-process (the sandbox)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from pydantic import SecretStr

from pixelgate.core.models import ImageRequest, ImageResult
from pixelgate.core.streaming import SseEvent, StreamEvent
from pixelgate.errors import GatewayError
from pixelgate.settings import DeploymentConfig, ProviderConfig, Timeouts

__all__ = [
    "HttpAdapter",
    "LocalEngine",
    "ProviderSpec",
    "Route",
    "StreamingAdapter",
    "StreamingEngine",
    "UpstreamRequest",
    "UpstreamResponse",
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
class ProviderSpec:
    type: str
    engine: LocalEngine | HttpAdapter
    description: str = ""
