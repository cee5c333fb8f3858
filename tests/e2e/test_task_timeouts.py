"""Time limits: a sync request whose wait runs out answers `status: "pending"` with a
poll_url (seed 003), and a task that outlives `tasks.timeout_seconds` fails and is settled
(released) exactly once."""

from __future__ import annotations

from pathlib import Path

import httpx

from tests.e2e.tasks_env import config, create, fakes, start, wait
from tests.support.db import usage_rows


def test_sync_wait_runs_out_then_the_task_times_out(tmp_path: Path) -> None:
    with fakes() as f:
        f.bfl.steps_until_ready = 10**6  # never ready
        f.mj.steps_per_task = 10**6
        (tmp_path / "pixelgate.yaml").write_text(config(f, timeout_seconds=4, sync_wait_seconds=1))
        gw = start(tmp_path, f)
        try:
            resp = httpx.post(
                gw.base_url + "/v1/images/generations",
                json={"model": "flux-pro-1.1", "prompt": "slow", "response_format": "url"},
                headers=gw.headers,
                timeout=60,
            )
            assert resp.status_code == 200, resp.text
            pending = resp.json()
            assert pending["status"] == "pending" and pending["data"] == []
            assert pending["poll_url"] == f"/v1/tasks/{pending['task_id']}"
            created = create(gw, {"model": "midjourney", "prompt": "slow too"})
            ids = [pending["task_id"], created["task_id"]]
            for task_id in ids:
                done = wait(gw, task_id)
                assert done["status"] == "failed", done
                assert done["error"]["code"] == "task_timeout"
            rows = [r for r in usage_rows(gw) if r.request_id in ids]
            assert sorted((r.request_id, r.status, r.error_code) for r in rows) == sorted(
                (task_id, 504, "task_timeout") for task_id in ids
            )
            assert f.bfl.submissions["flux-pro-1.1"] == 1
        finally:
            gw.stop()
