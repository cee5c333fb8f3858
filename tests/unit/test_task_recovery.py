"""A submit cut off by a crash (the task row says `submitting`, its worker is gone) is never
simply sent again: nothing sent → submit; a local engine → run again; Midjourney → found by
its marker and adopted; BFL (which cannot be asked) → failed safely. The worker runs
in-process here, against the upstream fakes, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta
from pathlib import Path

import httpx
from sqlalchemy import update

from pixelgate.auth.api_keys import Principal
from pixelgate.core.context import RequestContext
from pixelgate.core.models import ImageRequest, Size
from pixelgate.services import build_services
from pixelgate.settings import Settings
from pixelgate.storage.migrate import upgrade
from pixelgate.storage.tables import tasks
from pixelgate.tasks.models import Origin, Task, TaskState
from pixelgate.tasks.service import TaskOptions
from pixelgate.tasks.store import utcnow
from tests.e2e.tasks_env import MJ_SECRET, config, fakes


async def test_interrupted_submits_are_resolved_safely(tmp_path: Path, database_url: str) -> None:
    with fakes() as f:
        path = tmp_path / "pixelgate.yaml"
        path.write_text(config(f))
        await asyncio.to_thread(upgrade, database_url)
        settings = Settings(data_dir=tmp_path / "data", database_url=database_url, config=path)
        services = build_services(settings)
        try:
            key = await services.keys.create("t")
            ctx = RequestContext("req_1", "openai", "/v1/images/generations", "http://gw")
            ctx.principal = Principal(key.info.id, "t")

            async def new(model: str, prompt: str) -> Task:
                size = Size(32, 32) if model == "sandbox-image" else None
                req = ImageRequest(model=model, prompt=prompt, size=size)
                return await services.tasks.submit(ctx, req, TaskOptions(Origin.V1))

            sent_bfl = await new("flux-pro-1.1", "sent before the crash")
            unsent_bfl = await new("flux-pro-1.1", "crashed before sending")
            mj = await new("midjourney", "pig")
            local = await new("sandbox-image", "local")
            async with httpx.AsyncClient() as client:  # the submit that reached the proxy
                got = await client.post(
                    f.mj_url + "/mj/submit/imagine",
                    json={"prompt": "pig", "state": mj.id},
                    headers={"mj-api-secret": MJ_SECRET},
                )
            assert got.json()["code"] == 1
            crashed = {
                sent_bfl.id: "bfl/flux-pro-1.1",
                unsent_bfl.id: None,
                mj.id: "mj/midjourney",
                local.id: "sandbox/sandbox-image",
            }
            async with services.engine.begin() as conn:
                for task_id, deployment in crashed.items():
                    await conn.execute(
                        update(tasks)
                        .where(tasks.c.id == task_id)
                        .values(
                            state="submitting",
                            attempts=1,
                            deployment=deployment,
                            lease_owner="dead-worker",
                            lease_until=utcnow() - timedelta(seconds=1),
                        )
                    )
            worker = asyncio.create_task(services.worker().run())
            finals: dict[str, Task] = {}
            deadline = time.monotonic() + 60
            try:
                while len(finals) < len(crashed) and time.monotonic() < deadline:
                    await asyncio.sleep(0.1)
                    for task_id in crashed:
                        task = await services.tasks.store.get(task_id)
                        if task is not None and task.final:
                            finals[task_id] = task
            finally:
                worker.cancel()
                await asyncio.gather(worker, return_exceptions=True)
            assert finals[sent_bfl.id].state is TaskState.FAILED
            assert finals[sent_bfl.id].error_code == "upstream_submit_uncertain"
            for task_id in (unsent_bfl.id, mj.id, local.id):
                assert finals[task_id].state is TaskState.COMPLETED, finals[task_id]
            assert f.bfl.submissions["flux-pro-1.1"] == 1  # only the one never sent
            assert f.mj.submissions["IMAGINE"] == 1  # adopted, not sent again
        finally:
            await services.aclose()
            await services.engine.dispose()
