"""Tasks on the console's Requests page and the JSON view its script polls, over real HTTP:
scoped like every page (the admin sees every key's tasks, a client key its own), pending
tasks show what they hold, progress shows when the task has one, and once a worker finishes
them they turn completed with their cost and signed thumbnail links (never base64).

The gateway runs without a worker (PIXELGATE_RUN_WORKER=false), so tasks wait until the
test starts `pixelgate worker` — the moment they finish is the test's to choose.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.console.helpers import (
    create_key,
    sign_in,
    start_worker,
    stop_worker,
    submit_task,
)
from tests.support.gateway import Gateway, start_gateway

ADMIN_KEY = "console-tasks-admin-key-42"


@pytest.fixture(scope="module")
def gw(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    gw = start_gateway(
        tmp_path_factory.mktemp("console-tasks"),
        None,
        PIXELGATE_ADMIN_KEY=ADMIN_KEY,
        PIXELGATE_RUN_WORKER="false",
    )
    yield gw
    gw.stop()


def polled(client: httpx.Client, **params: str) -> list[dict[str, Any]]:
    resp = client.get("/console/tasks.json", params=params)
    assert resp.status_code == 200, resp.text
    assert resp.headers["content-type"].startswith("application/json")
    assert resp.headers["cache-control"] == "no-store"
    tasks: list[dict[str, Any]] = resp.json()["tasks"]
    return tasks


def row_of(page: str, task_id: str) -> str:
    return page.split(f'data-task-id="{task_id}"', 1)[1].split("</tr>", 1)[0]


def set_task(gw: Gateway, task_id: str, state: str, progress: int | None) -> None:
    """What a Midjourney-style upstream's poll writes: a state and a progress."""
    with sqlite3.connect(gw.data_dir / "pixelgate.db") as db:
        db.execute(
            "UPDATE tasks SET state = ?, progress = ? WHERE id = ?", (state, progress, task_id)
        )


def test_tasks_are_scoped_show_progress_and_turn_completed(gw: Gateway) -> None:
    admin = sign_in(gw, ADMIN_KEY)
    _, a_secret = create_key(admin, "tasks-a")
    b_id, b_secret = create_key(admin, "tasks-b")
    mine = submit_task(gw, a_secret, "a's own task")
    theirs = submit_task(gw, b_secret, "b's task")
    a = sign_in(gw, a_secret)

    # Pages: the key sees its own task only; the admin sees both, with the key's name.
    page = a.get("/console/requests").text
    assert mine in page and theirs not in page
    row = row_of(page, mine)
    assert 'data-final="false"' in row and ">pending<" in row
    assert "held $0.0010" in row  # the worst case reserved for one 1K sandbox image
    everyone = admin.get("/console/requests").text
    assert mine in everyone and theirs in everyone and "tasks-b" in row_of(everyone, theirs)
    only_b = admin.get("/console/requests", params={"key": b_id}).text
    assert theirs in only_b and mine not in only_b

    # The JSON view: the same scope, whatever ids or key filter are asked for.
    assert [t["id"] for t in polled(a, ids=f"{mine},{theirs}")] == [mine]
    assert [t["id"] for t in polled(a, key=b_id)] == [mine]
    assert [t["id"] for t in polled(admin, ids=f"{mine},{theirs}")] == [theirs, mine]
    assert [t["id"] for t in polled(admin, key=b_id)] == [theirs]
    b = sign_in(gw, b_secret)
    assert polled(b, ids=mine) == []  # another key's task is as absent as a made-up one
    assert polled(b, ids="task_doesnotexist") == []
    anonymous = httpx.get(gw.base_url + "/console/tasks.json", params={"ids": mine})
    assert anonymous.status_code == 401 and mine not in anonymous.text

    # Progress shows when the task has one (a Midjourney-style upstream reports it).
    set_task(gw, mine, "running", 40)
    (task,) = polled(a, ids=mine)
    assert (task["status"], task["progress"], task["final"]) == ("processing", 40, False)
    assert '<progress max="100" value="40">' in row_of(a.get("/console/requests").text, mine)
    set_task(gw, mine, "queued", None)  # back to what the sandbox task really is

    worker = start_worker(gw)
    try:
        deadline = time.monotonic() + 60
        while not all(t["final"] for t in polled(admin, ids=f"{mine},{theirs}")):
            assert time.monotonic() < deadline, "the worker did not finish the tasks"
            time.sleep(0.2)
    finally:
        stop_worker(worker)

    (done,) = polled(a, ids=mine)
    assert (done["status"], done["progress"], done["style"]) == ("completed", 100, "ok")
    assert done["cost"] == "$0.0010" and done["error"] == ""
    (thumb,) = done["thumbs"]
    assert thumb.startswith("/v1/files/img_") and "sig=" in thumb
    image = httpx.get(gw.base_url + thumb)
    assert image.status_code == 200 and image.headers["content-type"] == "image/png"
    assert "base64" not in a.get("/console/tasks.json", params={"ids": mine}).text
    page = a.get("/console/requests").text
    row = row_of(page, mine)
    assert 'data-final="true"' in row and ">completed<" in row and "$0.0010" in row
    assert f'src="{thumb.replace("&", "&amp;")}"' in row and ";base64," not in page
    # The finished task's settlement is in the requests log too, with the same cost.
    request_row = page.split(f'data-request-id="{mine}"', 1)[1].split("</tr>", 1)[0]
    assert "$0.0010" in request_row
