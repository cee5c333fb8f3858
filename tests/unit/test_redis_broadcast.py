"""`RedisBroadcast` against the test machine's Redis, each instance with its own client as
separate processes have: delivery to the others (not the sender), confirmed publishes that
return only once every receiver has acted, prefixes, a broken subscription coming back
(with a gap signal), and the API-key cache of two "processes" kept honest by it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

import pytest
from redis.asyncio import Redis

from pixelgate.auth.api_keys import ApiKeyService
from pixelgate.auth.limits import KeyLimits
from pixelgate.scale.broadcast import Topic
from pixelgate.scale.redis_broadcast import RedisBroadcast
from pixelgate.storage.db import create_engine
from pixelgate.storage.migrate import upgrade
from tests.support.redis import client, unique_prefix

MakeBroadcast = Callable[..., RedisBroadcast]


@pytest.fixture
async def broadcasts(prefix: str) -> AsyncIterator[MakeBroadcast]:
    made: list[RedisBroadcast] = []

    def make(name: str | None = None, on: str | None = None) -> RedisBroadcast:
        broadcast = RedisBroadcast(client(name), on or prefix)
        made.append(broadcast)
        return broadcast

    yield make
    for broadcast in made:
        await broadcast.aclose()
        await broadcast.client.aclose()


class Inbox:
    def __init__(self) -> None:
        self.items: list[str] = []
        self.arrived = asyncio.Event()

    def __call__(self, value: str) -> None:
        self.items.append(value)
        self.arrived.set()

    async def next(self) -> str:
        await asyncio.wait_for(self.arrived.wait(), 10)
        self.arrived.clear()
        return self.items[-1]


async def test_others_receive_and_the_sender_does_not(broadcasts: MakeBroadcast) -> None:
    sender, receiver = broadcasts(), broadcasts()
    own, created, final = Inbox(), Inbox(), Inbox()
    sender.subscribe(Topic.TASK_CREATED, own)
    receiver.subscribe(Topic.TASK_CREATED, created)
    receiver.subscribe(Topic.TASK_FINAL, final)
    await sender.start()
    await receiver.start()
    sender.publish(Topic.TASK_CREATED, "task_1")
    sender.publish(Topic.TASK_FINAL, "task_2")
    assert await created.next() == "task_1"
    assert await final.next() == "task_2"
    # Confirmed publishes are ordered after the plain ones on one channel; once this one is
    # confirmed by both, the sender has seen (and skipped) its own task_1 message.
    await sender.publish_and_confirm(Topic.KEY_CHANGED, "key_1")
    assert own.items == [] and created.items == ["task_1"]


async def test_a_confirmed_publish_returns_after_every_receiver_acted(
    broadcasts: MakeBroadcast,
) -> None:
    sender = broadcasts()
    inboxes = [Inbox() for _ in range(3)]
    for inbox in inboxes:
        receiver = broadcasts()
        receiver.subscribe(Topic.KEY_CHANGED, inbox)
        await receiver.start()
    await sender.start()
    for n in range(5):
        await sender.publish_and_confirm(Topic.KEY_CHANGED, f"key_{n}")
        # No waiting here: the handlers have run by the time the call returned.
        assert [inbox.items for inbox in inboxes] == [[f"key_{i}" for i in range(n + 1)]] * 3


async def test_prefixes_keep_deployments_apart(broadcasts: MakeBroadcast) -> None:
    sender, same = broadcasts(), broadcasts()
    elsewhere = broadcasts(on=unique_prefix())
    mine, theirs = Inbox(), Inbox()
    same.subscribe(Topic.KEY_CHANGED, mine)
    elsewhere.subscribe(Topic.KEY_CHANGED, theirs)
    for b in (sender, same, elsewhere):
        await b.start()
    await sender.publish_and_confirm(Topic.KEY_CHANGED, "key_1")
    elsewhere_sender = broadcasts(on=elsewhere.prefix)
    await elsewhere_sender.publish_and_confirm(Topic.KEY_CHANGED, "key_2")
    assert mine.items == ["key_1"] and theirs.items == ["key_2"]


async def test_malformed_messages_are_ignored(broadcasts: MakeBroadcast, prefix: str) -> None:
    receiver = broadcasts()
    inbox = Inbox()
    receiver.subscribe(Topic.TASK_FINAL, inbox)
    await receiver.start()
    raw = client()
    try:
        for junk in (b"not json", b"[1, 2]", b'{"t": "task_final"}', b'{"t":"nope","v":"x",'
                     b'"o":"x","a":null}'):  # fmt: skip
            await raw.publish(prefix + "events", junk)
    finally:
        await raw.aclose()
    broadcasts().publish(Topic.TASK_FINAL, "task_9")
    assert await inbox.next() == "task_9"
    assert inbox.items == ["task_9"]


async def _kill_pubsub_connection(name: str) -> None:
    admin = client()
    try:
        clients = await admin.client_list(_type="pubsub")
        ids = [c["id"] for c in clients if c.get("name") == name]
        assert len(ids) == 1, clients
        await admin.client_kill_filter(_id=ids[0])
    finally:
        await admin.aclose()


async def test_a_broken_subscription_comes_back_and_signals_a_gap(
    broadcasts: MakeBroadcast, prefix: str
) -> None:
    name = "pgtest-" + prefix.split(":")[1]
    receiver = broadcasts(name=name)
    gaps: list[int] = []
    inbox = Inbox()
    receiver.on_gap(lambda: gaps.append(1))
    receiver.subscribe(Topic.KEY_CHANGED, inbox)
    await receiver.start()
    assert gaps == [1]  # subscribing at start counts: nothing was heard before it
    await _kill_pubsub_connection(name)
    sender = broadcasts()
    for _ in range(100):  # until it has subscribed again (PUBLISH counts receivers)
        if await sender.client.publish(prefix + "events", b"{}") == 1 and len(gaps) == 2:
            break
        await asyncio.sleep(0.1)
    assert len(gaps) == 2
    await sender.publish_and_confirm(Topic.KEY_CHANGED, "key_1")
    assert inbox.items == ["key_1"]


@pytest.fixture
def migrated(database_url: str) -> str:
    upgrade(database_url)
    return database_url


async def test_key_cache_of_another_process_drops_a_revoked_or_changed_key(
    migrated: str, prefix: str
) -> None:
    engine = create_engine(migrated)
    clients: list[Redis] = []
    services: list[ApiKeyService] = []
    try:
        for _ in range(2):
            broadcast = RedisBroadcast(client(), prefix)
            clients.append(broadcast.client)
            service = ApiKeyService(engine, cache_ttl=3600, broadcast=broadcast)
            broadcast.subscribe(Topic.KEY_CHANGED, service.forget)
            await broadcast.start()
            services.append(service)
        here, there = services
        a = await here.create("a")
        b = await here.create("b")
        for service in services:
            assert await service.authenticate(a.secret) is not None
            assert await service.authenticate(b.secret) is not None
        # Changed through one process: the other has the new limits on its next request.
        assert await here.update(a.info.id, KeyLimits(rpm_limit=7))
        principal = await there.authenticate(a.secret)
        assert principal is not None and principal.limits.rpm_limit == 7
        # Revoked through one process: the other refuses it at once, cache or not.
        assert await here.revoke(b.info.id)
        assert await there.authenticate(b.secret) is None
        assert await here.authenticate(b.secret) is None
        # Without the broadcast the cache would have answered: this one still does.
        lonely = ApiKeyService(engine, cache_ttl=3600)
        assert await lonely.authenticate(a.secret) is not None
        assert await there.revoke(a.info.id)
        assert await lonely.authenticate(a.secret) is not None
        assert await here.authenticate(a.secret) is None
    finally:
        for service in services:
            await service.broadcast.aclose()
        for redis in clients:
            await redis.aclose()
        await engine.dispose()
