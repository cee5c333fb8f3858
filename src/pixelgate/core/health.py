"""Per-process health of deployments and upstream credentials.

A circuit breaker per deployment: closed → (N consecutive retryable failures) → open →
(cooldown) → half-open, where one probe is let through → closed on success, open again on
failure. A credential pool per provider: keys are used in rotation; a key the upstream
refuses (401/403) leaves the rotation until the process restarts, and is reported (by its
position, never its value) on /readyz.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from enum import StrEnum

from pydantic import SecretStr

__all__ = ["Breaker", "BreakerState", "CredentialPool"]


class BreakerState(StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


@dataclass
class Breaker:
    threshold: int
    cooldown: float
    clock: Callable[[], float] = time.monotonic
    failures: int = 0
    opened_at: float | None = None
    probing: bool = False
    successes: int = 0
    errors: int = 0

    @property
    def state(self) -> BreakerState:
        if self.opened_at is None:
            return BreakerState.CLOSED
        if self.clock() - self.opened_at >= self.cooldown:
            return BreakerState.HALF_OPEN
        return BreakerState.OPEN

    def allow(self) -> bool:
        """May a call go to this deployment now? Half-open lets exactly one probe through."""
        state = self.state
        if state is BreakerState.CLOSED:
            return True
        if state is BreakerState.HALF_OPEN and not self.probing:
            self.probing = True
            return True
        return False

    def success(self) -> None:
        self.failures = 0
        self.opened_at = None
        self.probing = False
        self.successes += 1

    def failure(self) -> None:
        self.errors += 1
        self.failures += 1
        if self.probing or self.failures >= self.threshold:
            self.opened_at = self.clock()
        self.probing = False

    def release(self) -> None:
        """The call ended without a verdict on the upstream (e.g. the client left)."""
        self.probing = False


@dataclass
class CredentialPool:
    keys: tuple[SecretStr, ...]
    refused: set[int] = field(default_factory=set)
    _turn: Iterator[int] = field(init=False)

    def __post_init__(self) -> None:
        self._turn = itertools.cycle(range(len(self.keys))) if self.keys else iter(())

    def next(self) -> tuple[int, SecretStr] | None:
        """The next usable key in rotation, or None when every key was refused."""
        for _ in range(len(self.keys)):
            index = next(self._turn)
            if index not in self.refused:
                return index, self.keys[index]
        return None

    def refuse(self, index: int) -> None:
        self.refused.add(index)

    @property
    def usable(self) -> int:
        return len(self.keys) - len(self.refused)
