"""Creating and reading tasks, and waiting for them (the request side of pixelgate.tasks).

A request never polls an upstream. It stores the task, wakes the local worker and — for a
sync request — waits on an in-process completion signal that the worker fires when it
commits the task's final state. With Redis (`scale.redis_broadcast`) both signals also
reach the other processes: every process's worker looks for the new task at once, and a
request waiting in any process hears that its task is final at once. Without it — or when
a message is lost — one shared watcher per process (not one loop per request) notices a
task finished elsewhere in the database, and workers find new tasks on their scan.
"""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

import anyio
import orjson

from pixelgate.billing.tasks import TaskQuote, task_quote
from pixelgate.core.context import RequestContext
from pixelgate.core.models import ImageRequest, ImageResult, ResponseFormat
from pixelgate.core.pipeline import ImageOutcome, OutputImage, Pipeline
from pixelgate.core.safe_fetch import FetchPolicy, check_url
from pixelgate.errors import GatewayError, InvalidParameter, NotFound
from pixelgate.scale.broadcast import Broadcast, NullBroadcast, Topic
from pixelgate.settings import TasksConfig
from pixelgate.storage.files import FileService
from pixelgate.tasks.codec import RequestCodec
from pixelgate.tasks.errors import error_from_row
from pixelgate.tasks.models import Origin, StoredImage, Task
from pixelgate.tasks.settle import GROUP_META, Settlement
from pixelgate.tasks.store import TaskStore, utcnow

__all__ = ["TaskOptions", "TaskService", "TaskStillRunning"]

log = logging.getLogger("pixelgate.tasks")


class TaskStillRunning(GatewayError):
    """A sync request's wait ran out; dialects that know tasks answer `status: "pending"`
    with a poll_url instead (seed 003). Others render it as a 202 error object."""

    status = 202
    code = "task_pending"
    type = "task_pending"

    def __init__(self, task: Task) -> None:
        super().__init__(f"The task {task.id} is still running; poll /v1/tasks/{task.id}.")
        self.task = task


@dataclass(frozen=True, slots=True)
class TaskOptions:
    origin: Origin
    family: str | None = None
    callback_url: str | None = None


class TaskService:
    def __init__(
        self,
        store: TaskStore,
        pipeline: Pipeline,
        codec: RequestCodec,
        config: TasksConfig,
        fetch_policy: FetchPolicy,
    ) -> None:
        self.store = store
        self.pipeline = pipeline
        self.codec = codec
        self.config = config
        self.settlement = Settlement(pipeline.deps.meter, codec)
        self.fetch_policy = fetch_policy
        self._waiters: dict[str, list[asyncio.Event]] = {}
        self._watcher: asyncio.Task[None] | None = None
        # Set by a worker running in this process, so new tasks start without delay.
        self.wake: Callable[[], None] = lambda: None
        # Tells the other processes (set up in services.py with their subscriptions).
        self.broadcast: Broadcast = NullBroadcast()

    @property
    def files(self) -> FileService:
        return self.pipeline.deps.files

    # -- creating ---------------------------------------------------------------------

    async def submit(self, ctx: RequestContext, req: ImageRequest, options: TaskOptions) -> Task:
        """Validate like a sync request (errors answer the request itself), then store."""
        if req.stream:
            raise InvalidParameter("stream cannot be combined with async.", param="stream")
        if options.callback_url is not None:
            await check_url(options.callback_url, "callback_url", self.fetch_policy)
        req = await self.pipeline.prepare(ctx, req)
        return await self._create(ctx, req, options)

    async def act(
        self, ctx: RequestContext, parent_id: str, action: str, options: TaskOptions
    ) -> Task:
        """A follow-up task on a completed one (Midjourney U1…V4): same deployment and
        upstream credential as the parent, whose upstream task it acts on."""
        parent = await self.get(ctx, parent_id)
        offered = parent.result.actions if parent.result else {}
        if action not in offered:
            choices = ", ".join(sorted(offered)) or "none"
            raise InvalidParameter(
                f"Task {parent.id} offers no action {action!r} (offered: {choices}).",
                param="action",
            )
        if options.callback_url is not None:
            await check_url(options.callback_url, "callback_url", self.fetch_policy)
        ctx.model = parent.model
        req = ImageRequest(model=parent.model, prompt=f"{action} of {parent.id}")
        meta = {
            "action": offered[action],
            "parent_id": parent.upstream_id or "",
            "parent_deployment": parent.deployment or "",
            "parent_credential": ""
            if parent.credential_index is None
            else str(parent.credential_index),
        }
        return await self._create(ctx, req, options, meta)

    async def _create(
        self,
        ctx: RequestContext,
        req: ImageRequest,
        options: TaskOptions,
        upstream_meta: dict[str, str] | None = None,
    ) -> Task:
        assert ctx.key_id is not None, "tasks belong to an authenticated key"
        task_id = "task_" + secrets.token_hex(12)
        held = self._quote(ctx, req)
        if held is not None:
            upstream_meta = (upstream_meta or {}) | {GROUP_META: held.group}
        # Task results are always links (seed 003); b64 answers are made when read.
        stored = dataclasses.replace(req, response_format=ResponseFormat.URL)
        text, blob_keys = await self.codec.dump(task_id, stored)
        now = utcnow()
        try:
            async with self.store.engine.begin() as conn:
                task = await self.store.insert(
                    conn,
                    {
                        "id": task_id,
                        "key_id": ctx.key_id,
                        "origin": options.origin.value,
                        "family": options.family,
                        "model": req.model,
                        "request": text,
                        "deadline": now + timedelta(seconds=self.config.timeout_seconds),
                        "callback_url": options.callback_url,
                        "base_url": ctx.base_url[:500],
                        "upstream_meta": orjson.dumps(upstream_meta).decode()
                        if upstream_meta
                        else None,
                    },
                )
                await self.settlement.created(conn, task, held)
        except BaseException:
            await self.codec.discard(blob_keys)
            raise
        self.wake()
        self.broadcast.publish(Topic.TASK_CREATED, task.id)
        return task

    def _quote(self, ctx: RequestContext, req: ImageRequest) -> TaskQuote | None:
        deps = self.pipeline.deps
        routes = deps.router.plan(req.model, ctx.region)
        return task_quote(deps.meter, deps.catalog, ctx, req, routes[0].upstream_model)

    # -- reading ----------------------------------------------------------------------

    async def get(self, ctx: RequestContext, task_id: str, family: str | None = None) -> Task:
        """The caller's own task; another key's task is indistinguishable from none."""
        task = await self.store.get(task_id) if task_id.startswith("task_") else None
        if task is None or task.key_id != ctx.key_id or (family and task.family != family):
            raise NotFound(f"No task with id {task_id!r}.", param="task_id")
        return task

    def signed_urls(self, task: Task, base_url: str) -> list[str]:
        if task.result is None:
            return []
        return [base_url + self._signed(image) for image in task.result.images]

    def _signed(self, image: StoredImage) -> str:
        return self.files.signed_path(image.file_id, image.expires_at)

    # -- sync requests to task-based upstreams ----------------------------------------

    async def run_and_wait(
        self, ctx: RequestContext, req: ImageRequest, echo_fields: bool
    ) -> ImageOutcome:
        task = await self._create(ctx, req, TaskOptions(Origin.SYNC))
        task = await self.wait(task.id, self.config.sync_wait_seconds)
        ctx.deployment = task.deployment
        if not task.final:
            raise TaskStillRunning(task)
        if task.result is None:
            raise error_from_row(task.error_type, task.error_code, task.error_message)
        outputs = []
        for image in task.result.images:
            if req.response_format is ResponseFormat.URL:
                outputs.append(OutputImage(url=ctx.base_url + self._signed(image)))
                continue
            stored = await self.files.get(image.file_id)
            data = await self.files.blobs.get(stored.blob_key) if stored else None
            if data is None:
                raise NotFound(f"The result of task {task.id} has expired.")
            outputs.append(OutputImage(b64_json=base64.b64encode(data).decode("ascii")))
        result = ImageResult(images=(), output_format=req.output_format)
        return ImageOutcome(req, result, tuple(outputs), echo_fields)

    async def wait(self, task_id: str, seconds: float) -> Task:
        """The task once final, or as it is when `seconds` have passed."""
        event = asyncio.Event()
        self._waiters.setdefault(task_id, []).append(event)
        self._ensure_watcher()
        try:
            with anyio.move_on_after(seconds):
                task = await self.store.get(task_id)
                if task is None or not task.final:
                    await event.wait()
        finally:
            events = self._waiters.get(task_id, [])
            if event in events:
                events.remove(event)
            if not events:
                self._waiters.pop(task_id, None)
        task = await self.store.get(task_id)
        assert task is not None
        return task

    def finished(self, task_id: str) -> None:
        """A worker of this process committed this task's final state."""
        self.notify(task_id)
        self.broadcast.publish(Topic.TASK_FINAL, task_id)

    def notify(self, task_id: str) -> None:
        """This task is final: wake the requests of this process that wait on it."""
        for event in self._waiters.get(task_id, []):
            event.set()

    def _ensure_watcher(self) -> None:
        if self._watcher is None or self._watcher.done():
            self._watcher = asyncio.create_task(self._watch())

    async def _watch(self) -> None:
        """While requests wait, look once per interval for waited tasks that another
        process finished (one query for all waiters)."""
        while self._waiters:
            await asyncio.sleep(self.config.wait_recheck_seconds)
            try:
                for task_id in await self.store.final_among(list(self._waiters)):
                    self.notify(task_id)
            except Exception:
                log.exception("checking waited tasks failed")

    async def aclose(self) -> None:
        if self._watcher is not None:
            self._watcher.cancel()
