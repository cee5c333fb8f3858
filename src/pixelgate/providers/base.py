"""What a provider is: a pure HTTP adapter (to_upstream / from_upstream / map_error) that the
executor drives, or a local engine that produces images in-process (the sandbox)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from pixelgate.core.models import ImageRequest, ImageResult
from pixelgate.errors import GatewayError
from pixelgate.settings import DeploymentConfig, ProviderConfig

__all__ = [
    "HttpAdapter",
    "LocalEngine",
    "ProviderSpec",
    "Route",
    "UpstreamRequest",
    "UpstreamResponse",
]


@dataclass(frozen=True, slots=True)
class Route:
    """One way to serve a request: a deployment on a configured provider."""

    deployment: DeploymentConfig
    provider_name: str
    provider: ProviderConfig

    @property
    def upstream_model(self) -> str:
        return self.deployment.target_model

    @property
    def name(self) -> str:
        return f"{self.provider_name}/{self.upstream_model}"


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


@dataclass(frozen=True, slots=True)
class ProviderSpec:
    type: str
    engine: LocalEngine | HttpAdapter
    description: str = ""
    # Images one upstream call can return; the pipeline fans larger `n` out (None: any n).
    images_per_call: int | None = None
