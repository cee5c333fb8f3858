"""Two gateway processes on one PostgreSQL, one Redis and one S3 bucket (moto), sharing
nothing else: separate data directories, one signing secret and admin key from the
environment, each caching API keys for 300 s.

Process A runs no task worker. Process B's worker scans for due tasks only every 10
minutes, A's database watcher looks for finished tasks only every 10 minutes and a sync
request waits up to 10 minutes, so within these tests (whose clients give up after a
minute) a task created through A runs only if Redis wakes B's worker, and a request waiting
in A is answered only if Redis tells A its task is final. Rate limits and
concurrency caps are counted once for both processes, and a key revoked or changed through
either is refused by the other at once — where a process without Redis (the control)
still trusts its cached entry.
"""

from __future__ import annotations

import asyncio
import base64
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.e2e import tasks_env
from tests.fakes.server import free_port
from tests.support.admin import ADMIN, ADMIN_HEADERS, GEN, create_key, error_code, generate
from tests.support.gateway import Gateway, run_cli, start_gateway
from tests.support.postgres import create_database, drop_database
from tests.support.redis import REDIS_URL, drop_prefix_sync, unique_prefix
from tests.support.s3 import S3Server, start_s3

pytestmark = pytest.mark.postgres

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
JPEG_MAGIC = b"\xff\xd8\xff"
SECRET = "c" * 64
BUCKET = "two-processes"


@dataclass
class Cluster:
    a: Gateway  # no task worker
    b: Gateway  # the task worker
    fakes: tasks_env.Fakes
    s3: S3Server
    database_url: str


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    tmp = tmp_path_factory.mktemp("scale")
    s3 = start_s3(tmp)
    url = create_database()
    prefix = unique_prefix()
    started: list[Gateway] = []
    try:
        s3.create_bucket(BUCKET)
        with tasks_env.fakes() as f:
            config = tmp / "pixelgate.yaml"
            slow = {"scan_interval_seconds": 600, "wait_recheck_seconds": 600}
            config.write_text(tasks_env.config(f, sync_wait_seconds=600, **slow))
            env = s3.env(
                BUCKET,
                PIXELGATE_CONFIG=str(config),
                PIXELGATE_FETCH_ALLOW_NETWORKS="127.0.0.0/8",
                PIXELGATE_REDIS_URL=REDIS_URL,
                PIXELGATE_REDIS_PREFIX=prefix,
                PIXELGATE_SECRET_KEY=SECRET,
                PIXELGATE_ADMIN_KEY=ADMIN,
                PIXELGATE_KEY_CACHE_SECONDS="300",
            )
            a = start_gateway(tmp / "a", url, "a.log", PIXELGATE_RUN_WORKER="false", **env)
            started.append(a)
            b = start_gateway(tmp / "b", url, "b.log", **env)
            started.append(b)
            yield Cluster(a, b, f, s3, url)
    finally:
        for gw in started:
            gw.stop()
        s3.stop()
        drop_database(url)
        drop_prefix_sync(prefix)


def until(check: Callable[[], bool], what: str, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def test_both_processes_report_redis_ready(cluster: Cluster) -> None:
    for gw in (cluster.a, cluster.b):
        body = httpx.get(gw.base_url + "/readyz").json()
        assert body["status"] == "ok" and body["checks"] == {"database": "ok", "redis": "ok"}


def test_a_task_created_through_a_is_run_by_the_worker_of_b(cluster: Cluster) -> None:
    a, s3 = cluster.a, cluster.s3
    before = set(s3.keys(BUCKET))
    served = []
    for body in (
        {"model": "sandbox-image", "prompt": "a lighthouse", "size": "32x32"},
        {"model": "flux-pro-1.1", "prompt": "a fox"},
    ):
        task = tasks_env.create(a, body)
        done = tasks_env.wait(a, task["task_id"], seconds=60)
        assert done["status"] == "completed", done
        link = done["data"][0]["url"]
        assert link.startswith(a.base_url + "/v1/files/")
        image = httpx.get(link, timeout=30)
        assert image.status_code == 200, image.text
        served.append(image.content)
    assert served[0].startswith(PNG_MAGIC) and served[1].startswith(JPEG_MAGIC)
    # Both images are in the shared bucket (stored by B), and A served those very bytes.
    new = sorted(set(s3.keys(BUCKET)) - before)
    assert len(new) == 2
    assert sorted(served) == sorted(s3.read(BUCKET, key)[0] for key in new)
    assert not list((a.data_dir / "images").rglob("*.*"))


def test_a_sync_request_waiting_in_a_is_answered_when_b_finishes(cluster: Cluster) -> None:
    resp = httpx.post(
        cluster.a.base_url + GEN,
        json={"model": "flux-pro-1.1", "prompt": "a sync fox"},
        headers=cluster.a.headers,
        timeout=60,
    )
    # Answered within the client's minute: A heard through Redis that B finished the task
    # (A's own watcher would have looked after 10 minutes, the request's wait runs as long).
    assert resp.status_code == 200, resp.text
    image = base64.b64decode(resp.json()["data"][0]["b64_json"])
    assert image.startswith(JPEG_MAGIC)  # what the BFL fake renders


def test_requests_per_minute_are_counted_once_for_both_processes(cluster: Cluster) -> None:
    a, b = cluster.a, cluster.b
    key_id, headers = create_key(a, unlimited=True)
    for gw in (a, b):  # each process now caches the key, without a rate limit
        assert generate(gw, headers).status_code == 200
    patched = httpx.patch(
        f"{a.base_url}/admin/keys/{key_id}", json={"rpm_limit": 5}, headers=ADMIN_HEADERS
    )
    assert patched.status_code == 200 and patched.json()["rpm_limit"] == 5

    async def burst() -> list[httpx.Response]:
        body = {"model": "sandbox-image", "prompt": "counted", "size": "32x32"}
        async with httpx.AsyncClient(timeout=60) as client:
            return await asyncio.gather(
                *(client.post(gw.base_url + GEN, json=body, headers=headers) for gw in (a, b) * 6)
            )

    responses = asyncio.run(burst())
    assert Counter(r.status_code for r in responses) == {200: 5, 429: 7}
    for resp in responses:
        if resp.status_code == 429:
            assert error_code(resp) == "rate_limit_exceeded"
            assert 1 <= int(resp.headers["retry-after"]) <= 60


def test_a_concurrency_slot_taken_in_one_process_counts_in_the_other(cluster: Cluster) -> None:
    a, b, bfl = cluster.a, cluster.b, cluster.fakes.bfl
    _, headers = create_key(b, unlimited=True, concurrency_limit=1)
    submitted = bfl.submissions["flux-pro-1.1"]
    bfl.steps_until_ready = 10**6  # the upstream keeps the job running until we say
    try:
        with ThreadPoolExecutor(1) as pool:
            slow = pool.submit(
                httpx.post,
                a.base_url + GEN,
                json={"model": "flux-pro-1.1", "prompt": "a slow fox"},
                headers=headers,
                timeout=60,
            )
            until(lambda: bfl.submissions["flux-pro-1.1"] > submitted, "the slow job upstream")
            refused = generate(b, headers)
            assert refused.status_code == 429, refused.text
            assert error_code(refused) == "concurrency_limit_exceeded"
            bfl.steps_until_ready = 0
            assert slow.result().status_code == 200
    finally:
        bfl.steps_until_ready = 2
    assert generate(b, headers).status_code == 200  # the slot came back


def test_a_key_revoked_or_changed_in_one_process_is_refused_by_the_other_at_once(
    cluster: Cluster, tmp_path: Path
) -> None:
    a, b = cluster.a, cluster.b
    # The control: same database, same key cache, no Redis.
    control = start_gateway(
        tmp_path / "control",
        cluster.database_url,
        PIXELGATE_KEY_CACHE_SECONDS="300",
        PIXELGATE_RUN_WORKER="false",
    )
    try:
        key_id, headers = create_key(a, unlimited=True)
        for gw in (a, b, control):
            assert generate(gw, headers).status_code == 200
        revoked = httpx.delete(f"{a.base_url}/admin/keys/{key_id}", headers=ADMIN_HEADERS)
        assert revoked.status_code == 200
        for gw in (b, a):
            refused = generate(gw, headers)
            assert refused.status_code == 401 and error_code(refused) == "invalid_api_key"
        # Without Redis a process trusts its cached entry until the TTL runs out.
        assert generate(control, headers).status_code == 200

        # Disabled through B's admin API: A refuses it on the next request.
        key_id, headers = create_key(b, unlimited=True)
        assert generate(a, headers).status_code == 200
        disabled = httpx.patch(
            f"{b.base_url}/admin/keys/{key_id}", json={"enabled": False}, headers=ADMIN_HEADERS
        )
        assert disabled.status_code == 200
        refused = generate(a, headers)
        assert refused.status_code == 403 and error_code(refused) == "key_disabled"

        # Revoked with the CLI (PIXELGATE_REDIS_URL in its environment): the same.
        key_id, headers = create_key(a, unlimited=True)
        for gw in (a, b):
            assert generate(gw, headers).status_code == 200
        assert "Revoked" in run_cli(a.env, "keys", "revoke", key_id).stdout
        for gw in (a, b):
            assert generate(gw, headers).status_code == 401
    finally:
        control.stop()


def test_with_redis_down_capped_keys_get_503_and_the_rest_are_served(tmp_path: Path) -> None:
    gw = start_gateway(
        tmp_path / "data",
        None,
        PIXELGATE_REDIS_URL=f"redis://127.0.0.1:{free_port()}/0",
        PIXELGATE_ADMIN_KEY=ADMIN,
    )
    try:
        ready = httpx.get(gw.base_url + "/readyz")
        assert ready.status_code == 200
        assert ready.json()["status"] == "degraded"
        assert ready.json()["checks"] == {"database": "ok", "redis": "unreachable"}
        assert generate(gw, gw.headers).status_code == 200  # no caps: Redis not needed
        key_id, capped = create_key(gw, unlimited=True, rpm_limit=100)
        refused = generate(gw, capped)
        assert refused.status_code == 503 and error_code(refused) == "service_unavailable"
        assert refused.headers["retry-after"] == "1"
        # The admin API still works (the database is the truth); lifting the cap serves it.
        lifted = httpx.patch(
            f"{gw.base_url}/admin/keys/{key_id}", json={"rpm_limit": None}, headers=ADMIN_HEADERS
        )
        assert lifted.status_code == 200
        assert generate(gw, capped).status_code == 200
    finally:
        gw.stop()
