"""One step of one claimed task: submit it, recover an interrupted submit, poll it, or finish.

Exactly-once submission. Before anything is sent, the task moves to `submitting` (with its
attempt count) and records the deployment it is about to use. The upstream's task id is
stored — moving the task to `running` — before the first poll. So a task found in
`submitting` after a crash may have reached the upstream, and it is never simply sent again:

- nothing recorded as sent (no deployment), or a local engine: start over (no upstream cost);
- an upstream that can look a submission up by our marker (Midjourney's `state` field):
  ask it; adopt the task it knows, or submit if it knows none;
- any other upstream (BFL cannot deduplicate): fail the task (`upstream_submit_uncertain`)
  and release its reservation — a refund is better than paying for the work twice.

A submit whose connection could not even be opened is known not to have been sent, and is
retried like any other retryable error.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

import orjson
from sqlalchemy.ext.asyncio import AsyncConnection

from pixelgate.auth.api_keys import Principal
from pixelgate.core.context import RequestContext
from pixelgate.core.executor import Executor
from pixelgate.core.models import ImageRequest, ImageResult
from pixelgate.core.router import Router
from pixelgate.errors import GatewayError, UpstreamConnectError, UpstreamRateLimited
from pixelgate.providers.base import (
    LocalEngine,
    ProviderSpec,
    Route,
    TaskActions,
    TaskAdapter,
    TaskDone,
    TaskFailed,
    TaskRecovery,
    UpstreamTask,
)
from pixelgate.tasks.errors import (
    DeploymentGone,
    ResultUnavailable,
    SubmitUncertain,
    TaskInterrupted,
    TaskTimedOut,
)
from pixelgate.tasks.models import CallbackState, StoredImage, Task, TaskResult, TaskState
from pixelgate.tasks.service import TaskService
from pixelgate.tasks.store import utcnow

__all__ = ["MAX_FETCH_FAILURES", "Steps"]

log = logging.getLogger("pixelgate.tasks")
MAX_FETCH_FAILURES = 3
SettleHook = Callable[[AsyncConnection, Task], Awaitable[None]]


class _LeaseLost(Exception):
    """Another worker owns the task now (our lease ran out); stop touching it."""


def _redact(err: GatewayError, route: Route | None) -> GatewayError:
    if route is not None:
        for secret in route.secrets:
            err.message = err.message.replace(secret, "***")
    return err


class Steps:
    def __init__(
        self,
        service: TaskService,
        router: Router,
        providers: dict[str, ProviderSpec],
        executor: Executor,
        owner: str,
    ) -> None:
        self.service = service
        self.store = service.store
        self.config = service.config
        self.router = router
        self.providers = providers
        self.executor = executor
        self.owner = owner
        # Called with the seconds until a task is due again (the worker wakes up then).
        self.due_in: Callable[[float], None] = lambda _: None

    async def run(self, task: Task) -> None:
        if task.state is TaskState.QUEUED and utcnow() < task.deadline:
            await self.start(task)
        elif utcnow() >= task.deadline:
            await self.fail(task, TaskTimedOut("The task did not finish in time."))
        elif task.state is TaskState.SUBMITTING:
            await self.recover(task)
        else:
            await self.poll(task)

    # -- helpers ----------------------------------------------------------------------

    def _ctx(self, task: Task) -> RequestContext:
        ctx = RequestContext(task.id, "task", f"task:{task.origin.value}", task.base_url)
        ctx.principal = Principal(task.key_id, "")
        ctx.model = task.model
        return ctx

    def _delay(self, n: int) -> float:
        return float(min(self.config.poll_initial_seconds * 1.5**n, self.config.poll_max_seconds))

    def _later(self, task: Task, seconds: float) -> dict[str, Any]:
        """Values that put the task back, due again in `seconds` (never past its deadline)."""
        due = min(utcnow() + timedelta(seconds=seconds), task.deadline)
        self.due_in(max(0.0, (due - utcnow()).total_seconds()))
        return {"next_poll_at": due, "lease_owner": None, "lease_until": None}

    async def _cas(self, task: Task, values: dict[str, Any]) -> bool:
        return await self.store.cas(task, self.owner, values)

    def _route(self, task: Task) -> Route | None:
        if task.deployment is None:
            return None
        return self.router.route_for(task.model, task.deployment, task.credential_index)

    async def _requeue(self, task: Task, seconds: float) -> None:
        await self._cas(
            task,
            {"state": TaskState.QUEUED.value, "deployment": None, "credential_index": None}
            | self._later(task, seconds),
        )

    async def _running(self, task: Task, route: Route, upstream: UpstreamTask) -> None:
        await self._cas(
            task,
            {
                "state": TaskState.RUNNING.value,
                "deployment": route.name,
                "credential_index": route.credential_index,
                "upstream_id": upstream.id[:200],
                "upstream_meta": orjson.dumps(upstream.data).decode(),
                "progress": 0,
                "polls": 0,
            }
            | self._later(task, self.config.poll_initial_seconds),
        )

    # -- submit -----------------------------------------------------------------------

    async def start(self, task: Task) -> None:
        try:
            req = await self.service.codec.load(task.request)
        except LookupError as exc:  # e.g. workers that do not share the blob store
            await self.fail(task, GatewayError(f"The task's input is missing: {exc}."))
            return
        marker = {
            "state": TaskState.SUBMITTING.value,
            "attempts": task.attempts + 1,
            "deployment": None,
            "credential_index": None,
        }
        if not await self._cas(task, marker):
            return
        task = dataclasses.replace(
            task, state=TaskState.SUBMITTING, attempts=task.attempts + 1, deployment=None
        )
        ctx = self._ctx(task)
        in_flight: list[Route] = []  # a submit that was sent and got no answer
        action = task.upstream_meta.get("action")

        async def attempt(route: Route) -> tuple[Route, UpstreamTask | ImageResult]:
            if in_flight:
                raise SubmitUncertain("An earlier submit of this task got no answer.")
            spec = self.providers[route.provider.type]
            values = {"deployment": route.name, "credential_index": route.credential_index}
            if not await self._cas(task, values):
                raise _LeaseLost
            engine = spec.engine_for(route)
            if not isinstance(engine, TaskAdapter):
                return route, await self.service.pipeline.call_route(spec, req, route)
            if action and isinstance(engine, TaskActions):
                parent = UpstreamTask(task.upstream_meta.get("parent_id", ""))
                request = engine.action_request(parent, action, route, task.id)
            else:
                request = engine.submit_request(req, route, task.id)
            in_flight.append(route)
            try:
                resp = await self.executor.send(request, route.timeouts)
            except UpstreamConnectError:
                in_flight.clear()  # no connection: nothing reached the upstream
                raise
            in_flight.clear()
            if resp.status >= 400:
                raise engine.map_error(resp, route)
            return route, engine.parse_submit(resp, route)

        try:
            routes = self._action_routes(task) if action else self.router.plan(task.model)
            route, outcome = await self.service.pipeline.try_routes(ctx, req, routes, attempt)
        except _LeaseLost:
            return
        except GatewayError as err:
            await self._submit_failed(task, err, bool(in_flight))
            return
        if isinstance(outcome, UpstreamTask):
            await self._running(task, route, outcome)
        else:
            await self.finish(task, outcome, {})

    def _action_routes(self, task: Task) -> list[Route]:
        """An action goes to the parent task's deployment and credential, or nowhere."""
        meta = task.upstream_meta
        credential = meta.get("parent_credential", "")
        route = self.router.route_for(
            task.model,
            meta.get("parent_deployment", ""),
            int(credential) if credential.isdigit() else None,
        )
        if route is None:
            raise DeploymentGone(f"Deployment {meta.get('parent_deployment')} is gone.")
        return [route]

    async def _submit_failed(self, task: Task, err: GatewayError, uncertain: bool) -> None:
        if uncertain or isinstance(err, SubmitUncertain):
            # Let the recovery path decide, with what the row says was sent.
            fresh = await self.store.get(task.id)
            if fresh is not None and fresh.state is TaskState.SUBMITTING:
                await self.recover(fresh)
            return
        limited = isinstance(err, UpstreamRateLimited)
        if err.retryable and (limited or task.attempts < self.config.max_submit_attempts):
            wait = err.retry_after if err.retry_after else self._delay(task.attempts)
            log.info("task %s: submit failed (%s), retrying in %.1fs", task.id, err.code, wait)
            await self._requeue(task, wait)
            return
        await self.fail(task, err)

    async def recover(self, task: Task) -> None:
        """The task is in `submitting` with no live worker: decide as the module says."""
        if task.deployment is None:
            await self._requeue(task, 0)
            return
        route = self._route(task)
        if route is None:
            await self.fail(task, DeploymentGone(f"Deployment {task.deployment} is gone."))
            return
        engine = self.providers[route.provider.type].engine_for(route)
        if isinstance(engine, LocalEngine):
            await self._requeue(task, 0)
            return
        if not isinstance(engine, TaskAdapter):
            await self.fail(task, TaskInterrupted("The upstream call was interrupted."))
            return
        if not isinstance(engine, TaskRecovery):
            await self.fail(
                task,
                SubmitUncertain(
                    "The submit to the upstream was interrupted and cannot be checked; the "
                    "task was failed rather than risk running it twice."
                ),
            )
            return
        try:
            resp = await self.executor.send(engine.find_request(task.id, route), route.timeouts)
            if resp.status >= 400:
                raise engine.map_error(resp, route)
            found = engine.parse_find(resp, task.id, route)
        except GatewayError as err:
            log.info("task %s: lookup of an interrupted submit failed (%s)", task.id, err.code)
            await self._cas(task, self._later(task, self._delay(task.attempts)))
            return
        if found is None:
            log.info("task %s: interrupted submit never arrived; submitting again", task.id)
            await self._requeue(task, 0)
        else:
            log.info("task %s: interrupted submit found upstream as %s", task.id, found.id)
            await self._running(task, route, found)

    # -- poll -------------------------------------------------------------------------

    async def poll(self, task: Task) -> None:
        route = self._route(task)
        engine = self.providers[route.provider.type].engine_for(route) if route else None
        if route is None or not isinstance(engine, TaskAdapter) or task.upstream_id is None:
            await self.fail(task, DeploymentGone(f"Deployment {task.deployment} is gone."))
            return
        upstream = UpstreamTask(task.upstream_id, task.upstream_meta)
        try:
            resp = await self.executor.send(engine.poll_request(upstream, route), route.timeouts)
            status = engine.parse_poll(resp, upstream, route)
        except GatewayError as err:
            log.info("task %s: poll failed (%s); retrying", task.id, err.code)
            await self._cas(
                task, {"polls": task.polls + 1} | self._later(task, self._delay(task.polls))
            )
            return
        if isinstance(status, TaskFailed):
            await self.fail(task, _redact(status.error, route))
        elif isinstance(status, TaskDone):
            await self.finish(task, status.result, status.actions)
        else:
            progress = status.progress if status.progress is not None else task.progress
            await self._cas(
                task,
                {"progress": progress, "polls": task.polls + 1}
                | self._later(task, self._delay(task.polls + 1)),
            )

    # -- final states -----------------------------------------------------------------

    async def finish(self, task: Task, result: ImageResult, actions: dict[str, str]) -> None:
        """Store the images at once (upstream links expire), then complete and settle in
        one transaction."""
        req: ImageRequest = await self.service.codec.load(task.request, inputs=False)
        ctx = self._ctx(task)
        images = []
        try:
            if not result.images:
                raise ResultUnavailable("The upstream finished without an image.")
            for image in result.images:
                stored, image = await self.service.pipeline.store_image(ctx, req, image)
                exp = int(stored.expires_at.timestamp())
                size = (image.width, image.height, stored.size_bytes)
                images.append(StoredImage(stored.id, stored.content_type, exp, *size))
        except GatewayError as err:
            failures = task.fetch_failures + 1
            if task.state is TaskState.RUNNING and failures < MAX_FETCH_FAILURES:
                log.info("task %s: result download failed (%s); retrying", task.id, err.code)
                await self._cas(task, {"fetch_failures": failures} | self._later(task, 1.0))
                return
            await self.fail(
                task,
                ResultUnavailable(
                    "The upstream finished but its result could not be downloaded "
                    f"({err.message}); upstream result links expire quickly."
                ),
            )
            return
        cost = result.usage.upstream_cost_micros if result.usage else None
        if cost is None and task.upstream_meta.get("cost_micros", "").isdigit():
            cost = int(task.upstream_meta["cost_micros"])
        outcome = TaskResult(tuple(images), actions, cost)
        values = {
            "state": TaskState.COMPLETED.value,
            "result": outcome.dumps(),
            "progress": 100,
        }
        settlement = self.service.settlement
        finish = lambda conn, t: settlement.completed(conn, t, outcome)  # noqa: E731
        if await self._final(task, values, finish):
            return
        log.warning(
            "task %s: finished elsewhere; its copy of the result is left to expire", task.id
        )

    async def fail(self, task: Task, err: GatewayError) -> None:
        values = {
            "state": TaskState.FAILED.value,
            "error_type": type(err).__name__,
            "error_code": err.error_code[:80],
            "error_message": err.message[:2000],
        }
        await self._final(task, values, self.service.settlement.failed)

    async def _final(self, task: Task, values: dict[str, Any], hook: SettleHook) -> bool:
        """Move to a final state and settle in one transaction; True when this call did."""
        now = utcnow()
        values = values | {
            "finished_at": now,
            "next_poll_at": now,
            "lease_owner": None,
            "lease_until": None,
            "callback_state": CallbackState.PENDING.value if task.callback_url else None,
        }
        async with self.store.engine.begin() as conn:
            done = await self.store.transition(conn, task, self.owner, values)
            if done:
                await hook(conn, await self.store.get_in(conn, task.id))
        if done:
            self.service.finished(task.id)
            if task.callback_url:
                self.due_in(0)
            try:
                await self.service.codec.discard_task(task.request)
            except Exception:
                log.exception("task %s: could not remove its input blobs", task.id)
        return done
