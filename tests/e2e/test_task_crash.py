"""Durability with real processes: SIGKILL the gateway while tasks are pending and
processing, start it again on the same database — every task finishes, none is lost, none
is submitted upstream twice, none is settled twice (SQLite and PostgreSQL). And a task
created through one process is finished by the worker of another (`pixelgate worker`)."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from tests.e2e.tasks_env import Fakes, config, create, fakes, get, start, wait
from tests.support.db import usage_rows
from tests.support.gateway import Gateway, gateway_env
from tests.support.postgres import create_database, drop_database


def statuses(gw: Gateway, ids: list[str]) -> list[str]:
    return sorted(get(gw, f"/v1/tasks/{task_id}").json()["status"] for task_id in ids)


def bfl_submits(f: Fakes) -> int:
    return sum(1 for r in f.bfl.requests if r.method == "POST" and r.path == "/v1/flux-pro-1.1")


def until(check: Callable[[], bool], what: str, gw: Gateway, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}:\n{gw.logs()}")
        time.sleep(0.1)


def test_sigkill_loses_nothing_and_runs_nothing_twice(tmp_path: Path, database_url: str) -> None:
    with fakes() as f:
        f.bfl.steps_until_ready = 10**6  # upstream work stays in progress until we allow it
        f.bfl.max_active_tasks = 2  # the third BFL task is refused (429) and stays pending
        f.mj.steps_per_task = 10**6
        (tmp_path / "pixelgate.yaml").write_text(config(f))
        first = start(tmp_path, f, database_url)
        try:
            bfl_ids = [
                create(first, {"model": "flux-pro-1.1", "prompt": f"fox {i}"})["task_id"]
                for i in range(3)
            ]
            mj_ids = [
                create(first, {"model": "midjourney", "prompt": f"pig {i}"})["task_id"]
                for i in range(2)
            ]
            ids = bfl_ids + mj_ids
            expected = ["pending"] + ["processing"] * 4
            until(lambda: statuses(first, ids) == expected, "tasks to be in flight", first)
            # Kill just after a refused submit was answered (the task is back in the queue),
            # not in the few milliseconds while a submit is on the wire.
            seen = bfl_submits(f)
            until(lambda: bfl_submits(f) > seen, "another refused submit", first)
            time.sleep(0.5)
        finally:
            first.proc.kill()  # SIGKILL: no shutdown, leases stay held
            first.proc.wait()
        assert f.bfl.submissions["flux-pro-1.1"] == 2 and f.mj.submissions["IMAGINE"] == 2
        f.bfl.steps_until_ready = 0
        f.mj.steps_per_task = 0
        second = start(tmp_path, f, database_url, log_name="gateway2.log")
        try:
            for task_id in ids:
                done = wait(second, task_id, headers=first.headers)
                assert done["status"] == "completed", done
                assert httpx.get(done["data"][0]["url"], timeout=30).status_code == 200
            rows = usage_rows(second)
        finally:
            second.stop()
        assert f.bfl.submissions["flux-pro-1.1"] == 3  # each BFL task accepted exactly once
        assert f.mj.submissions["IMAGINE"] == 2
        settled = sorted(r.request_id for r in rows if r.request_id.startswith("task_"))
        assert settled == sorted(ids)  # one settle row per task, no more


@pytest.mark.postgres
def test_task_created_by_one_process_finished_by_another(tmp_path: Path) -> None:
    url = create_database()
    worker: subprocess.Popen[bytes] | None = None
    try:
        with fakes() as f:
            (tmp_path / "pixelgate.yaml").write_text(config(f))
            api = start(tmp_path, f, url, PIXELGATE_RUN_WORKER="false")
            try:
                flux = create(api, {"model": "flux-pro-1.1", "prompt": "fox"})["task_id"]
                local = create(api, {"model": "sandbox-image", "prompt": "x", "size": "32x32"})
                time.sleep(1.5)  # nothing runs them in this process
                assert statuses(api, [flux, local["task_id"]]) == ["pending", "pending"]
                assert f.bfl.submissions["flux-pro-1.1"] == 0
                # the same data dir: one image store and signing secret, as on shared storage
                env = gateway_env(api.data_dir, url, PIXELGATE_CONFIG=api.env["PIXELGATE_CONFIG"])
                log = open(tmp_path / "worker.log", "wb")  # noqa: SIM115 - for the process
                worker = subprocess.Popen(
                    [sys.executable, "-m", "pixelgate.cli", "worker"], env=env, stdout=log,
                    stderr=log,
                )  # fmt: skip
                for task_id in (flux, local["task_id"]):
                    done = wait(api, task_id)
                    assert done["status"] == "completed", done
                    assert httpx.get(done["data"][0]["url"], timeout=30).status_code == 200
                # a sync request on the worker-less process waits for the other one's worker
                resp = httpx.post(
                    api.base_url + "/v1/images/generations",
                    json={"model": "flux-pro-1.1", "prompt": "sync", "response_format": "url"},
                    headers=api.headers,
                    timeout=60,
                )
                assert resp.status_code == 200, resp.text
                assert httpx.get(resp.json()["data"][0]["url"], timeout=30).status_code == 200
                assert f.bfl.submissions["flux-pro-1.1"] == 2
            finally:
                api.stop()
    finally:
        if worker is not None:
            worker.terminate()
            assert worker.wait(timeout=20) == 0
        drop_database(url)
