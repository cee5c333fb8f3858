"""A request in an upstream's own protocol, for passthrough (e.g. a Gemini-native body to a
Gemini deployment): forwarded with only the model and credentials rewritten."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

__all__ = ["NativeCall", "NativeOutcome"]


@dataclass(frozen=True, slots=True)
class NativeCall:
    protocol: str  # e.g. "gemini"; a provider that speaks it may take the body as it is
    body: bytes  # the client's body, unchanged
    stream: bool = False  # the streaming method of the protocol
    sse: bool = False  # stream as server-sent events (Gemini: `alt=sse`), else one body


@dataclass(frozen=True, slots=True)
class NativeOutcome:
    """The upstream's answer, unchanged: one body, or the data of each SSE event."""

    body: bytes | None = None
    events: AsyncIterator[str] | None = None
