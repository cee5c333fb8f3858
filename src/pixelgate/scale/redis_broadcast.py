"""`Broadcast` over one Redis pub/sub channel, `<prefix>events`.

A message is JSON: the topic, the value, the sending process's random id (a process skips
its own messages: it has acted already) and, for a confirmed publish, the name of a list
every receiver pushes to once its handlers have run. The sender knows from PUBLISH how
many subscribers received the message and waits for that many pushes — which is how a key
revoked through the admin API of one process is refused by every process by the time the
API answers, not merely soon after.

Plain publishes go out from a background task (task creation and completion never wait on
Redis, and a Redis outage only drops hints). The subscription runs in its own task and
comes back by itself after Redis does. The `on_gap` handlers run each time it is
(re)established, since messages sent while it was not may have been lost.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import time
from collections.abc import Callable
from typing import Any

import anyio
import orjson
from redis.asyncio import Redis

from pixelgate.scale.broadcast import Handler, Topic
from pixelgate.scale.redis_client import REDIS_ERRORS

__all__ = ["RedisBroadcast"]

log = logging.getLogger("pixelgate.broadcast")

# How long a confirmed publish waits for every process to confirm.
CONFIRM_SECONDS = 1.0
# How long start-up waits for the subscription before going on without it.
START_SECONDS = 3.0
# Hints queued while Redis is slow; more are dropped (their fallbacks still apply).
OUTBOX_SIZE = 10_000
# How long a receiver's confirmation stays in Redis if nobody reads it.
ACK_TTL_MS = 10_000

_TOPICS = {t.value: t for t in Topic}


class RedisBroadcast:
    def __init__(self, client: Redis, prefix: str) -> None:
        self.client = client
        self.prefix = prefix
        self.channel = prefix + "events"
        self.origin = secrets.token_hex(8)
        self._handlers: dict[Topic, list[Handler]] = {}
        self._gap_handlers: list[Callable[[], None]] = []
        self._subscribed = asyncio.Event()
        self._listener: asyncio.Task[None] | None = None
        self._outbox: asyncio.Queue[bytes] | None = None
        self._sender: asyncio.Task[None] | None = None
        # Checked by the loops as well as cancelling them: redis-py swallows a cancellation
        # that lands just as a read's timeout expires.
        self._closing = False

    def subscribe(self, topic: Topic, handler: Handler) -> None:
        self._handlers.setdefault(topic, []).append(handler)

    def on_gap(self, handler: Callable[[], None]) -> None:
        self._gap_handlers.append(handler)

    # -- sending ----------------------------------------------------------------------

    def _message(self, topic: Topic, value: str, ack: str | None = None) -> bytes:
        return orjson.dumps({"t": topic.value, "v": value, "o": self.origin, "a": ack})

    def publish(self, topic: Topic, value: str) -> None:
        if self._outbox is None:
            self._outbox = asyncio.Queue(OUTBOX_SIZE)
        if self._sender is None or self._sender.done():
            self._sender = asyncio.create_task(self._send_loop(self._outbox))
        with contextlib.suppress(asyncio.QueueFull):
            self._outbox.put_nowait(self._message(topic, value))

    async def _send_loop(self, outbox: asyncio.Queue[bytes]) -> None:
        failing = False
        while not self._closing:
            message = await outbox.get()
            try:
                await self.client.publish(self.channel, message)
                failing = False
            except REDIS_ERRORS as exc:
                if not failing:
                    log.warning("publishing to Redis failed (other processes learn later): %s", exc)
                failing = True

    async def publish_and_confirm(self, topic: Topic, value: str) -> None:
        ack = f"{self.prefix}ack:{secrets.token_hex(12)}"
        deadline = time.monotonic() + CONFIRM_SECONDS
        receivers = confirmed = 0
        try:
            receivers = await self.client.publish(self.channel, self._message(topic, value, ack))
            while confirmed < receivers:
                left = deadline - time.monotonic()
                if left <= 0.01 or await self.client.blpop([ack], timeout=left) is None:
                    break
                confirmed += 1
        except REDIS_ERRORS as exc:
            log.warning("could not tell the other processes of %s %s: %s", topic, value, exc)
            return
        if confirmed < receivers:
            log.warning(
                "%d of %d processes did not confirm %s %s within %.1f s",
                receivers - confirmed,
                receivers,
                topic,
                value,
                CONFIRM_SECONDS,
            )

    # -- receiving --------------------------------------------------------------------

    async def start(self) -> None:
        """Subscribe; wait a little for it, so a process is subscribed before it serves."""
        if self._listener is None:
            self._listener = asyncio.create_task(self._listen())
        with anyio.move_on_after(START_SECONDS):
            await self._subscribed.wait()
        if not self._subscribed.is_set():
            log.warning("Redis is unreachable; subscribing in the background")

    async def _listen(self) -> None:
        delay, broken = 0.5, False
        while not self._closing:
            pubsub = self.client.pubsub()
            try:
                await pubsub.subscribe(self.channel)
                while not self._closing:
                    message = await pubsub.get_message(timeout=1.0)
                    if message is None:
                        continue
                    if message["type"] == "subscribe":
                        # Also after redis-py reconnected by itself: hence a gap each time.
                        self._subscribed.set()
                        delay = 0.5
                        if broken:
                            log.info("subscribed to Redis again")
                            broken = False
                        self._gap()
                    elif message["type"] == "message":
                        await self._receive(message["data"])
            except REDIS_ERRORS as exc:
                self._subscribed.clear()
                if not broken:
                    log.warning("Redis subscription lost (retrying): %s", exc)
                broken = True
            except Exception:
                self._subscribed.clear()
                log.exception("Redis subscription failed (retrying)")
                broken = True
            finally:
                with anyio.CancelScope(shield=True), contextlib.suppress(*REDIS_ERRORS):
                    await pubsub.aclose()  # type: ignore[no-untyped-call]
            if not self._closing:
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)

    def _gap(self) -> None:
        for handler in self._gap_handlers:
            try:
                handler()
            except Exception:
                log.exception("a broadcast gap handler failed")

    async def _receive(self, data: bytes) -> None:
        try:
            message: dict[str, Any] = orjson.loads(data)
            topic, value, origin, ack = (message[k] for k in ("t", "v", "o", "a"))
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
            log.warning("ignored a malformed message on %s", self.channel)
            return
        known = _TOPICS.get(topic) if isinstance(topic, str) else None
        if origin != self.origin and known is not None:
            for handler in self._handlers.get(known, []):
                try:
                    handler(str(value))
                except Exception:
                    log.exception("a broadcast handler for %s failed", topic)
        if isinstance(ack, str) and ack.startswith(self.prefix + "ack:"):
            try:
                async with self.client.pipeline(transaction=False) as pipe:
                    pipe.rpush(ack, 1)
                    pipe.pexpire(ack, ACK_TTL_MS)
                    await pipe.execute()
            except REDIS_ERRORS as exc:
                log.warning("could not confirm a broadcast: %s", exc)

    async def aclose(self) -> None:
        self._closing = True
        for job in (self._listener, self._sender):
            if job is not None:
                job.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await job
