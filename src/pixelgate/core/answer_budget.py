"""Back-pressure on large upstream answers: a per-process budget of answer bytes.

An image answer is megabytes of base64, held by the gateway from the moment its upstream
body is read until the client has taken the response. Without a bound, 2,000 requests whose
upstream answers all arrive within a second hold all of them at once (bench/ measured 4.4 GB
for 2,000 answers of 1.5 MB). So each process has an `AnswerBudget` of bytes, and each
request a `Lease` on it:

- The first large body a request reads waits, before it is read, until the budget has room
  (first come, first served); the upstream's bytes stay in the kernel's socket buffers
  meanwhile (the HTTP client stops reading the connection once its small buffer is full).
- Further bodies of a request that already holds budget are counted without waiting: a
  request never waits while it holds budget, so requests cannot wait on each other.
- A body larger than the whole budget is admitted once nothing else is held (it proceeds
  alone rather than never).
- Bodies under `SMALL_BODY_BYTES` (errors, task polls) are not counted and never wait.
- The lease is released when the response has been written, however the request ends
  (`http.budget.AnswerBudgetMiddleware`); a call made outside a request (the task worker)
  holds a lease only while it reads.

The request's lease is found through a context variable, so every endpoint and every task a
request spawns (fan-out calls, the disconnect watcher's work) share it without passing it
down the pipeline.

    budget = AnswerBudget(64 * 2**20)
    lease = budget.lease()
    counted = await lease.admit_body(1_500_000)   # waits while 64 MB are held
    ...                                            # read the body, answer the client
    lease.release()
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
from collections import deque
from collections.abc import Iterator

__all__ = [
    "SMALL_BODY_BYTES",
    "UNKNOWN_BODY_BYTES",
    "AnswerBudget",
    "Lease",
    "bound_lease",
    "current_lease",
]

# Bodies below this are not counted: the HTTP client's read buffer holds this much anyway.
SMALL_BODY_BYTES = 64 * 1024
# What a body without a Content-Length is counted as until it has been read.
UNKNOWN_BODY_BYTES = 1024 * 1024

_current: contextvars.ContextVar[Lease | None] = contextvars.ContextVar(
    "pixelgate_answer_lease", default=None
)


class AnswerBudget:
    """`limit` bytes, handed out first come, first served; see the module docstring."""

    def __init__(self, limit: int) -> None:
        if limit < 1:
            raise ValueError("the answer budget must be at least one byte")
        self.limit = limit
        self.held = 0
        self._waiters: deque[tuple[int, asyncio.Future[None]]] = deque()

    @property
    def waiting(self) -> int:
        """Requests waiting for room (cancelled ones are dropped as they are met)."""
        return sum(1 for _, fut in self._waiters if not fut.done())

    def lease(self) -> Lease:
        return Lease(self)

    def _fits(self, nbytes: int) -> bool:
        return self.held == 0 or self.held + nbytes <= self.limit

    async def acquire(self, nbytes: int) -> None:
        """Wait until `nbytes` fit (or nothing else is held), in arrival order."""
        if not self._waiters and self._fits(nbytes):
            self.held += nbytes
            return
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        entry = (nbytes, fut)
        self._waiters.append(entry)
        try:
            await fut
        except asyncio.CancelledError:
            if fut.done() and not fut.cancelled():
                self.release(nbytes)  # granted just as it was cancelled: give it back
            else:
                with contextlib.suppress(ValueError):
                    self._waiters.remove(entry)
                self._wake()  # it may have been first in line
            raise

    def add(self, nbytes: int) -> None:
        """Count bytes without waiting (a request that already holds budget)."""
        self.held += nbytes

    def release(self, nbytes: int) -> None:
        self.held -= nbytes
        self._wake()

    def _wake(self) -> None:
        while self._waiters:
            nbytes, fut = self._waiters[0]
            if fut.done():
                self._waiters.popleft()
                continue
            if not self._fits(nbytes):
                return
            self._waiters.popleft()
            self.held += nbytes
            fut.set_result(None)


class Lease:
    """One request's share of the budget: taken body by body, released once."""

    def __init__(self, budget: AnswerBudget) -> None:
        self.budget = budget
        self.held = 0
        self.closed = False
        self._admitting: asyncio.Lock | None = None

    async def admit_body(self, declared: int | None) -> int:
        """Wait, if this request holds nothing yet, until a body of `declared` bytes
        (None: unknown) may be read; returns the bytes counted for it."""
        nbytes = UNKNOWN_BODY_BYTES if declared is None else declared
        if self.closed or nbytes < SMALL_BODY_BYTES:
            return 0
        if self.held:
            self._add(nbytes)
            return nbytes
        # Parallel calls of one request: the first waits, the others then join it.
        if self._admitting is None:
            self._admitting = asyncio.Lock()
        async with self._admitting:
            if self.closed:
                return 0
            if self.held:
                self._add(nbytes)
                return nbytes
            await self.budget.acquire(nbytes)
            if self.closed:  # released while waiting: nothing may stay held
                self.budget.release(nbytes)
                return 0
            self.held += nbytes
            return nbytes

    def body_read(self, counted: int, size: int) -> None:
        """Correct the count once a body has been read: `size` bytes, of which `counted`
        were admitted (an unknown length was counted as UNKNOWN_BODY_BYTES)."""
        if not counted or self.closed:
            return
        actual = size if size >= SMALL_BODY_BYTES else 0
        if actual > counted:
            self._add(actual - counted)
        elif actual < counted:
            give_back = min(counted - actual, self.held)
            self.held -= give_back
            self.budget.release(give_back)

    def _add(self, nbytes: int) -> None:
        if self.closed:
            return
        self.budget.add(nbytes)
        self.held += nbytes

    def release(self) -> None:
        """Give back everything; later bodies of this request are not counted."""
        self.closed = True
        held, self.held = self.held, 0
        if held:
            self.budget.release(held)


def current_lease() -> Lease | None:
    """The lease of the request being served, if any (and not released yet)."""
    lease = _current.get()
    return lease if lease is not None and not lease.closed else None


@contextlib.contextmanager
def bound_lease(lease: Lease) -> Iterator[Lease]:
    """Make `lease` the current one for this task (and tasks it starts), release it after."""
    token = _current.set(lease)
    try:
        yield lease
    finally:
        lease.release()
        _current.reset(token)
