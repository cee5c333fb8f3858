"""The task worker: claims due tasks with a lease and runs one step of each.

It runs inside `pixelgate serve` (unless PIXELGATE_RUN_WORKER=false) and alone as
`pixelgate worker`; any number of them may share one database. Each claimed task gets a
lease that a heartbeat renews while the step runs, so a worker that dies (SIGKILL, power
loss) simply stops renewing: once its leases run out, any worker resumes those tasks from
what their rows say (see steps.py for why that never submits a task twice).
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
import os
import secrets
import socket
from datetime import timedelta

import anyio

from pixelgate.core.executor import Executor
from pixelgate.core.router import Router
from pixelgate.providers.base import ProviderSpec
from pixelgate.tasks.models import Task
from pixelgate.tasks.service import TaskService
from pixelgate.tasks.steps import Steps
from pixelgate.tasks.store import utcnow
from pixelgate.tasks.webhooks import WebhookSender

__all__ = ["Worker"]

log = logging.getLogger("pixelgate.worker")

# The wake-ups the running step asked for (loop times). They are set when the step is over:
# a timer started earlier could fire before the step commits, find its task still leased,
# and leave it until the next scan.
_asked: contextvars.ContextVar[list[float] | None] = contextvars.ContextVar(
    "pixelgate_worker_asked", default=None
)
# A timer may fire a hair before the wall-clock time a task is due at.
_MARGIN_SECONDS = 0.01


class Worker:
    def __init__(
        self,
        service: TaskService,
        router: Router,
        providers: dict[str, ProviderSpec],
        executor: Executor,
    ) -> None:
        self.service = service
        self.store = service.store
        self.config = service.config
        self.owner = f"{socket.gethostname()[:30]}:{os.getpid()}:{secrets.token_hex(4)}"
        self.steps = Steps(service, router, providers, executor, self.owner)
        self.steps.due_in = self.due_in
        self.webhooks = WebhookSender(service, executor, self.owner)
        self._running: dict[str, asyncio.Task[None]] = {}
        self._event = asyncio.Event()

    def wake(self) -> None:
        self._event.set()

    def due_in(self, seconds: float) -> None:
        """A task will be due in `seconds`: look again then rather than at the next scan."""
        if seconds >= self.config.scan_interval_seconds:
            return
        loop = asyncio.get_running_loop()
        asked = _asked.get()
        if asked is None:
            loop.call_later(seconds + _MARGIN_SECONDS, self._event.set)
        else:
            asked.append(loop.time() + seconds + _MARGIN_SECONDS)

    async def run(self) -> None:
        """Work until cancelled; then give the leases back so others resume at once."""
        self.service.wake = self.wake
        heartbeat = asyncio.create_task(self._heartbeat())
        log.info("task worker %s started", self.owner)
        try:
            while True:
                await self._scan()
                with anyio.move_on_after(self.config.scan_interval_seconds):
                    await self._event.wait()
                self._event.clear()
        finally:
            self.service.wake = lambda: None
            heartbeat.cancel()
            running = list(self._running.values())
            for step in running:
                step.cancel()
            await asyncio.gather(heartbeat, *running, return_exceptions=True)
            with anyio.CancelScope(shield=True), contextlib.suppress(Exception):
                await self.store.release_all(self.owner)

    async def _scan(self) -> None:
        free = self.config.concurrency - len(self._running)
        if free <= 0:
            return
        try:
            claimed = await self.store.claim(self.owner, free, self.config.lease_seconds)
        except Exception:
            log.exception("claiming due tasks failed")
            return
        for task in claimed:
            self._running[task.id] = asyncio.create_task(self._step(task))
        if len(claimed) == free:
            self._event.set()  # there may be more due tasks than free slots

    async def _step(self, task: Task) -> None:
        asked: list[float] = []
        _asked.set(asked)  # this step runs in its own asyncio task, so its own context
        try:
            if task.final:
                await self.webhooks.deliver(task)
            else:
                await self.steps.run(task)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("task %s: step failed unexpectedly; retrying later", task.id)
            due = utcnow() + timedelta(seconds=self.config.poll_max_seconds)
            with contextlib.suppress(Exception):
                await self.store.release(task.id, self.owner, due)
        finally:
            self._running.pop(task.id, None)
            if len(self._running) == self.config.concurrency - 1:
                self._event.set()
            if asked:
                loop = asyncio.get_running_loop()
                loop.call_at(max(min(asked), loop.time()), self._event.set)

    async def _heartbeat(self) -> None:
        while True:
            await asyncio.sleep(self.config.lease_seconds / 3)
            try:
                await self.store.renew(self.owner, list(self._running), self.config.lease_seconds)
            except Exception:
                log.exception("renewing task leases failed")
