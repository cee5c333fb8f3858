"""Webhooks: the final task JSON POSTed once to the request's `callback_url`.

The body is exactly what polling the task would return (v1 shape for `/v1` tasks, v2 shape
for `/v2/extend/image` tasks). It is signed so the receiver can tell it came from this
gateway and was not replayed long after:

    X-Pixelgate-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>

The secret is the SHA-256 hex digest of the API key that created the task — the client can
compute it from its own key, and the gateway stores only that digest, so no new secret has
to be handed out or kept. Verify by recomputing the HMAC over the raw body bytes, comparing
in constant time, and refusing timestamps older than a few minutes.

Delivery: only to public addresses (the same SSRF rules as image fetching, checked again
at every attempt); a 2xx answer ends it; anything else is retried with doubling delays up
to `tasks.webhook_max_attempts`. A crash between a delivery and its record can repeat that
delivery once — receivers should deduplicate on `task_id`.
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import logging
import time
from datetime import timedelta

import orjson
from sqlalchemy import select

from pixelgate.core.executor import Executor
from pixelgate.core.safe_fetch import post_public
from pixelgate.dialects import extend_v2, tasks_v1
from pixelgate.errors import GatewayError
from pixelgate.storage.tables import api_keys
from pixelgate.tasks.models import CallbackState, Origin, Task
from pixelgate.tasks.service import TaskService
from pixelgate.tasks.store import utcnow

__all__ = ["SIGNATURE_HEADER", "WebhookSender", "sign"]

log = logging.getLogger("pixelgate.webhooks")
SIGNATURE_HEADER = "X-Pixelgate-Signature"
MAX_DELAY_SECONDS = 600.0


def sign(secret: str, timestamp: int, body: bytes) -> str:
    mac = hmac.new(secret.encode(), str(timestamp).encode() + b"." + body, hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


class WebhookSender:
    def __init__(self, service: TaskService, executor: Executor, owner: str) -> None:
        self.service = service
        self.executor = executor
        self.owner = owner
        config = service.config
        self.policy = dataclasses.replace(
            executor.policy, timeout_seconds=config.webhook_timeout_seconds
        )

    def body(self, task: Task) -> bytes:
        urls = self.service.signed_urls(task, task.base_url)
        if task.origin is Origin.V2:
            return orjson.dumps(extend_v2.render_task(task, urls))
        return orjson.dumps(tasks_v1.render_task(task, urls))

    async def _secret(self, key_id: str) -> str:
        async with self.service.store.engine.connect() as conn:
            row = (
                await conn.execute(select(api_keys.c.key_hash).where(api_keys.c.id == key_id))
            ).first()
        return str(row.key_hash) if row is not None else ""

    async def deliver(self, task: Task) -> None:
        assert task.callback_url is not None
        body = self.body(task)
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "pixelgate-webhook/1",
            "X-Pixelgate-Task-Id": task.id,
            SIGNATURE_HEADER: sign(await self._secret(task.key_id), int(time.time()), body),
        }
        status: int | None = None
        try:
            status = await post_public(
                self.executor.client, task.callback_url, body, headers, self.policy
            )
        except GatewayError as err:
            log.info("task %s: webhook not delivered: %s", task.id, err.message)
        attempts = task.callback_attempts + 1
        values: dict[str, object] = {
            "callback_attempts": attempts,
            "lease_owner": None,
            "lease_until": None,
        }
        if status is not None and 200 <= status < 300:
            values["callback_state"] = CallbackState.DELIVERED.value
        elif attempts >= self.service.config.webhook_max_attempts:
            log.warning("task %s: webhook given up after %d attempts", task.id, attempts)
            values["callback_state"] = CallbackState.FAILED.value
        else:
            base = self.service.config.webhook_backoff_seconds
            delay = min(base * 2 ** (attempts - 1), MAX_DELAY_SECONDS)
            values["next_poll_at"] = utcnow() + timedelta(seconds=delay)
        await self.service.store.cas(task, self.owner, values)
