"""The answer budget (core.answer_budget): order of admission, release on every way a request
can end, a body larger than the whole budget, and the gated aiohttp reads behind it. No
timing assertions: waiting is observed through the budget's state, never the clock."""

from __future__ import annotations

import asyncio

import aiohttp
import pytest
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from pixelgate.core.answer_budget import (
    SMALL_BODY_BYTES,
    UNKNOWN_BODY_BYTES,
    AnswerBudget,
    Lease,
    bound_lease,
    current_lease,
)
from pixelgate.core.gated_reads import GatedConnector, GatedResponseHandler
from pixelgate.http.budget import AnswerBudgetMiddleware

MB = 1024 * 1024


async def _settle() -> None:
    """Let every runnable task run until it blocks."""
    for _ in range(10):
        await asyncio.sleep(0)


async def _admit(lease: Lease, nbytes: int, order: list[str], name: str) -> None:
    await lease.admit_body(nbytes)
    order.append(name)


async def test_admits_in_arrival_order_and_waits_for_room() -> None:
    budget = AnswerBudget(4 * MB)
    first, second, third = budget.lease(), budget.lease(), budget.lease()
    order: list[str] = []
    await _admit(first, 3 * MB, order, "first")
    # The second does not fit; the third would (1 MB) but must not overtake it.
    t2 = asyncio.create_task(_admit(second, 2 * MB, order, "second"))
    t3 = asyncio.create_task(_admit(third, 1 * MB, order, "third"))
    await _settle()
    assert order == ["first"] and budget.waiting == 2 and budget.held == 3 * MB
    first.release()
    await asyncio.gather(t2, t3)
    assert order == ["first", "second", "third"]
    assert budget.held == 3 * MB
    second.release()
    third.release()
    assert budget.held == 0


async def test_an_answer_larger_than_the_budget_proceeds_alone() -> None:
    budget = AnswerBudget(2 * MB)
    small, big = budget.lease(), budget.lease()
    assert await small.admit_body(1 * MB) == 1 * MB
    waiting = asyncio.create_task(big.admit_body(10 * MB))
    await _settle()
    assert not waiting.done()
    small.release()
    assert await waiting == 10 * MB
    assert budget.held == 10 * MB
    big.release()
    assert budget.held == 0


async def test_cancelled_waiter_leaves_the_queue_and_wakes_the_next() -> None:
    budget = AnswerBudget(2 * MB)
    holder, cancelled, after = budget.lease(), budget.lease(), budget.lease()
    await holder.admit_body(2 * MB)
    t_cancelled = asyncio.create_task(cancelled.admit_body(2 * MB))
    t_after = asyncio.create_task(after.admit_body(1 * MB))
    await _settle()
    t_cancelled.cancel()
    with pytest.raises(asyncio.CancelledError):
        await t_cancelled
    assert budget.waiting == 1
    holder.release()
    await t_after
    assert budget.held == 1 * MB and cancelled.held == 0
    after.release()
    assert budget.held == 0


async def test_granted_then_cancelled_gives_the_bytes_back() -> None:
    budget = AnswerBudget(2 * MB)
    holder, late = budget.lease(), budget.lease()
    await holder.admit_body(2 * MB)
    task = asyncio.create_task(late.admit_body(2 * MB))
    await _settle()
    holder.release()  # grants `late` its bytes...
    task.cancel()  # ...but it is cancelled before it runs again
    with pytest.raises(asyncio.CancelledError):
        await task
    assert budget.held == 0 and budget.waiting == 0


async def test_a_request_holding_budget_never_waits_for_more() -> None:
    """Two requests each reading two bodies cannot deadlock: the second body of a request
    that is already admitted is counted without waiting."""
    budget = AnswerBudget(4 * MB)
    a, b = budget.lease(), budget.lease()
    await a.admit_body(3 * MB)
    t_b = asyncio.create_task(b.admit_body(3 * MB))
    await _settle()
    assert await a.admit_body(3 * MB) == 3 * MB  # over the budget, without waiting
    assert budget.held == 6 * MB and not t_b.done()
    a.release()
    await t_b
    b.release()
    assert budget.held == 0


async def test_parallel_bodies_of_one_request_join_its_admission() -> None:
    budget = AnswerBudget(4 * MB)
    other, fanned = budget.lease(), budget.lease()
    await other.admit_body(4 * MB)
    calls = [asyncio.create_task(fanned.admit_body(2 * MB)) for _ in range(3)]
    await _settle()
    assert not any(c.done() for c in calls)
    other.release()
    assert await asyncio.gather(*calls) == [2 * MB] * 3
    assert fanned.held == budget.held == 6 * MB
    fanned.release()
    assert budget.held == 0


async def test_small_and_unknown_bodies() -> None:
    budget = AnswerBudget(4 * MB)
    lease = budget.lease()
    assert await lease.admit_body(SMALL_BODY_BYTES - 1) == 0  # not counted, never waits
    counted = await lease.admit_body(None)
    assert counted == UNKNOWN_BODY_BYTES
    lease.body_read(counted, 3 * MB)  # it turned out larger: counted as read
    assert budget.held == 3 * MB
    counted = await lease.admit_body(None)
    lease.body_read(counted, 100)  # and smaller: the estimate is given back
    assert budget.held == 3 * MB
    lease.release()
    assert budget.held == 0


async def test_release_while_waiting_keeps_nothing() -> None:
    budget = AnswerBudget(1 * MB)
    holder, lease = budget.lease(), budget.lease()
    await holder.admit_body(1 * MB)
    task = asyncio.create_task(lease.admit_body(1 * MB))
    await _settle()
    lease.release()  # the request ended (its response failed) while a body waited
    holder.release()
    assert await task == 0
    assert budget.held == 0
    assert await lease.admit_body(5 * MB) == 0  # a released lease counts nothing more


async def test_bound_lease_releases_on_exception_and_cancellation() -> None:
    budget = AnswerBudget(4 * MB)

    async def request(fail: bool) -> None:
        with bound_lease(budget.lease()):
            lease = current_lease()
            assert lease is not None
            await lease.admit_body(2 * MB)
            if fail:
                raise RuntimeError("the response could not be written")
            await asyncio.Event().wait()  # a client that never reads

    with pytest.raises(RuntimeError):
        await request(fail=True)
    assert budget.held == 0 and current_lease() is None
    hanging = asyncio.create_task(request(fail=False))
    await _settle()
    assert budget.held == 2 * MB
    hanging.cancel()
    with pytest.raises(asyncio.CancelledError):
        await hanging
    assert budget.held == 0


async def test_tasks_started_by_a_request_share_its_lease() -> None:
    budget = AnswerBudget(4 * MB)
    with bound_lease(budget.lease()) as lease:
        seen = await asyncio.create_task(_current())
        assert seen is lease
    assert current_lease() is None


async def _current() -> Lease | None:
    return current_lease()


def test_the_budget_must_hold_something() -> None:
    with pytest.raises(ValueError):
        AnswerBudget(0)


async def test_aiohttp_connections_use_the_gated_protocol() -> None:
    """If an aiohttp upgrade drops the hook, reads before admission are no longer small."""
    connector = GatedConnector()
    try:
        protocol = connector._factory()
        assert isinstance(protocol, GatedResponseHandler)
        assert isinstance(connector, aiohttp.TCPConnector)
    finally:
        await connector.close()


async def _app_reading(budget_bytes: int, body: bytes) -> ASGIApp:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        lease = current_lease()
        assert lease is not None
        await lease.admit_body(budget_bytes)
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": body})

    return app


async def test_middleware_waits_for_the_last_body_to_drain_before_releasing() -> None:
    budget = AnswerBudget(4 * MB)
    drained = asyncio.Event()
    sent: list[Message] = []
    held_while_draining: list[int] = []

    async def send(message: Message) -> None:
        sent.append(message)
        if message["type"] == "http.response.body" and not message.get("more_body"):
            # uvicorn waits here, before the final message, until its buffer drained.
            held_while_draining.append(budget.held)
            await drained.wait()

    app = AnswerBudgetMiddleware(await _app_reading(2 * MB, b"answer"), budget)
    call = asyncio.create_task(app({"type": "http"}, _no_receive, send))
    await _settle()
    assert held_while_draining == [2 * MB] and not call.done()
    drained.set()
    await call
    assert budget.held == 0
    bodies = [(m.get("body"), m.get("more_body", False)) for m in sent[1:]]
    assert bodies == [(b"answer", True), (b"", False)]


async def test_middleware_leaves_answers_that_hold_nothing_alone() -> None:
    budget = AnswerBudget(4 * MB)
    sent: list[Message] = []

    async def send(message: Message) -> None:
        sent.append(message)

    app = AnswerBudgetMiddleware(await _app_reading(SMALL_BODY_BYTES - 1, b"small"), budget)
    await app({"type": "http"}, _no_receive, send)
    assert [(m.get("body"), m.get("more_body", False)) for m in sent[1:]] == [(b"small", False)]


async def test_a_client_that_never_reads_gives_its_budget_back() -> None:
    budget = AnswerBudget(4 * MB)
    never = asyncio.Event()

    async def send(message: Message) -> None:
        if message["type"] == "http.response.body" and not message.get("more_body"):
            await never.wait()

    app = AnswerBudgetMiddleware(await _app_reading(2 * MB, b"x"), budget, stuck_seconds=0)
    call = asyncio.create_task(app({"type": "http"}, _no_receive, send))
    for _ in range(100):
        if budget.held == 0:
            break
        await asyncio.sleep(0.01)
    assert budget.held == 0 and not call.done()  # still sending, no longer holding
    call.cancel()
    with pytest.raises(asyncio.CancelledError):
        await call
    assert budget.held == 0


async def _no_receive() -> Message:
    return {"type": "http.disconnect"}


async def test_a_complete_answer_leaves_no_read_timer_behind() -> None:
    """aiohttp re-arms its sock_read timer when reading resumes, even after the answer is
    complete; left armed, it fires on the idle pooled connection and fails the next request
    on it. The gated protocol stops it again."""
    connector = GatedConnector()
    try:
        protocol = connector._factory()
        assert isinstance(protocol, GatedResponseHandler)
        protocol.read_timeout = 0.5
        answer = aiohttp.StreamReader(protocol, 2**16, loop=asyncio.get_running_loop())
        answer.feed_eof()
        protocol._payload = answer
        protocol._reading_paused = True
        protocol.resume_reading(resume_parser=False)
        assert protocol._read_timeout_handle is None
    finally:
        await connector.close()
