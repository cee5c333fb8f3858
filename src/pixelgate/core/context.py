"""Per-request context: who is calling, and what the usage log will record."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from pixelgate.auth.api_keys import Principal

__all__ = ["RequestContext"]


@dataclass(slots=True)
class RequestContext:
    request_id: str
    dialect: str
    endpoint: str
    base_url: str
    principal: Principal | None = None
    model: str | None = None
    deployment: str | None = None
    operation: str | None = None
    prompt_preview: str | None = None
    images: int = 0
    bytes_out: int = 0
    dropped_params: list[str] = field(default_factory=list)
    # Set when a streamed answer fails after its first byte (the status stays 200).
    stream_error: str | None = None
    # (deployment, error code) of each failed upstream attempt, retried ones included.
    upstream_errors: list[tuple[str, str]] = field(default_factory=list)
    started: float = field(default_factory=time.monotonic)

    @property
    def key_id(self) -> str | None:
        return self.principal.key_id if self.principal else None
