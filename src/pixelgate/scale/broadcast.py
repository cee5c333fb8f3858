"""Signals one process sends to all the others (see `pixelgate.scale`).

A `Broadcast` carries a topic and one string (a task or key id). The sender acts on its own
process directly and publishes for the others; a receiver runs the handlers subscribed to
the topic. Messages are hints that make things happen sooner, never the only way they
happen, so a lost message costs latency and nothing else.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum
from typing import Protocol

__all__ = ["Broadcast", "Handler", "NullBroadcast", "Topic"]

Handler = Callable[[str], None]


class Topic(StrEnum):
    TASK_CREATED = "task_created"  # value: task id; workers look for due tasks
    TASK_FINAL = "task_final"  # value: task id; waiting requests read the task
    KEY_CHANGED = "key_changed"  # value: key id; key caches drop the key


class Broadcast(Protocol):
    def subscribe(self, topic: Topic, handler: Handler) -> None:
        """Run `handler(value)` for each message on `topic` from another process."""
        ...

    def on_gap(self, handler: Callable[[], None]) -> None:
        """Run `handler()` when messages may have been missed (the subscription broke and
        came back), so a receiver can drop what it would have been told to drop."""
        ...

    def publish(self, topic: Topic, value: str) -> None:
        """Send to the other processes in the background; never blocks, never raises."""
        ...

    async def publish_and_confirm(self, topic: Topic, value: str) -> None:
        """Send, and return once every subscribed process has run its handlers (or a short
        bound has passed, which is logged). Never raises."""
        ...

    async def start(self) -> None: ...

    async def aclose(self) -> None: ...


class NullBroadcast:
    """One process, or several without Redis: nobody to tell. (The database watcher, the
    worker's scan and the key cache's TTL are what other processes go by then.)"""

    def subscribe(self, topic: Topic, handler: Handler) -> None:
        pass

    def on_gap(self, handler: Callable[[], None]) -> None:
        pass

    def publish(self, topic: Topic, value: str) -> None:
        pass

    async def publish_and_confirm(self, topic: Topic, value: str) -> None:
        pass

    async def start(self) -> None:
        pass

    async def aclose(self) -> None:
        pass
