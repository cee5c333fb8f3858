"""Per-request context: who is calling, and what the usage log will record."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pixelgate.auth.api_keys import Principal

if TYPE_CHECKING:
    from pixelgate.billing.pricing import Charge

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
    # The dialect that renders errors, when the body's shape chose another one than the
    # endpoint's (a DashScope body on /v1/images/generations).
    dialect_override: Any = None
    region: str | None = None  # from X-Pixelgate-Region (or X-TokenHub-Region)
    # (deployment, error code) of each failed upstream attempt, retried ones included.
    upstream_errors: list[tuple[str, str]] = field(default_factory=list)
    started: float = field(default_factory=time.monotonic)
    # Billing (micro-units), filled by billing.meter and written to the usage row.
    reserved: int = 0
    cost: int = 0
    charge: Charge | None = None
    price_mode: str | None = None

    @property
    def key_id(self) -> str | None:
        return self.principal.key_id if self.principal else None
