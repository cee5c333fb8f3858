"""Drive the midjourney-proxy fake over loopback HTTP with raw httpx, as a relay would."""

from __future__ import annotations

import io
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import orjson
import pytest
from PIL import Image

from tests.fakes.images import image_b64
from tests.fakes.midjourney import MidjourneyFakeState, create_app
from tests.fakes.server import serve

SECRET = "mj-test-secret"


@dataclass
class Fake:
    base: str
    state: MidjourneyFakeState
    client: httpx.Client

    def post(self, path: str, body: Any, secret: str | None = SECRET) -> httpx.Response:
        headers = {"mj-api-secret": secret} if secret else {}
        return self.client.post(f"{self.base}{path}", json=body, headers=headers)

    def fetch(self, task_id: str) -> dict[str, Any]:
        response = self.client.get(
            f"{self.base}/mj/task/{task_id}/fetch", headers={"mj-api-secret": SECRET}
        )
        assert response.status_code == 200, response.text
        task: dict[str, Any] = response.json()
        return task

    def submitted(self, path: str, body: dict[str, Any]) -> str:
        answer = self.post(path, body).json()
        assert answer["code"] in (1, 22), answer
        task_id: str = answer["result"]
        return task_id

    def finish(self, task_id: str) -> list[dict[str, Any]]:
        """Fetch until SUCCESS/FAILURE; every fetched task object in order."""
        seen = [self.fetch(task_id)]
        while seen[-1]["status"] not in ("SUCCESS", "FAILURE"):
            assert len(seen) < self.state.steps_per_task + 4, seen
            seen.append(self.fetch(task_id))
        return seen

    def image(self, url: str) -> Image.Image:
        response = self.client.get(url)  # CDN-style link: no secret needed
        assert response.status_code == 200, response.text
        return Image.open(io.BytesIO(response.content))

    def button(self, task: dict[str, Any], label: str) -> str:
        custom_id: str = next(
            b["customId"] for b in task["buttons"] if (b["label"] or b["emoji"]) == label
        )
        return custom_id


@pytest.fixture
def fake() -> Iterator[Fake]:
    state = MidjourneyFakeState(steps_per_task=2, tile_size=64)
    with serve(create_app(state)) as base, httpx.Client(timeout=10) as client:
        yield Fake(base, state, client)


def grid_colors(image: Image.Image) -> list[Any]:
    """The centre pixel of each quadrant, in U1..U4 order."""
    w, h = image.width // 2, image.height // 2
    return [image.getpixel((x * w + w // 2, y * h + h // 2)) for y in (0, 1) for x in (0, 1)]


def imagined(fake: Fake, prompt: str = "pig") -> dict[str, Any]:
    return fake.finish(fake.submitted("/mj/submit/imagine", {"prompt": prompt}))[-1]


def test_imagine_runs_through_every_status_to_a_real_grid(fake: Fake) -> None:
    answer = fake.post("/mj/submit/imagine", {"prompt": "pig --v 6.1", "state": "order-7"}).json()
    assert answer["code"] == 1 and answer["description"] == "提交成功"
    assert answer["properties"] == {"discordInstanceId": fake.state.instance_id}
    seen = fake.finish(answer["result"])
    assert [t["status"] for t in seen] == [
        "NOT_START",
        "SUBMITTED",
        "IN_PROGRESS",
        "IN_PROGRESS",
        "SUCCESS",
    ]
    assert [t["progress"] for t in seen] == ["0%", "0%", "33%", "67%", "100%"]
    task = seen[-1]
    assert task["action"] == "IMAGINE" and task["state"] == "order-7" and task["failReason"] is None
    assert task["description"] == "/imagine pig --v 6.1" and task["promptEn"] == "pig --v 6.1"
    assert task["submitTime"] <= task["startTime"] <= task["finishTime"]
    assert task["submitTime"] > 1_600_000_000_000  # epoch milliseconds
    assert seen[0]["imageUrl"] is None and seen[0]["buttons"] == []

    preview = fake.image(seen[2]["imageUrl"])
    grid = fake.image(task["imageUrl"])
    assert grid.format == "PNG" and grid.size == (128, 128) and preview.size == (32, 32)
    assert len(set(grid_colors(grid))) == 4
    labels = [b["label"] or b["emoji"] for b in task["buttons"]]
    assert labels == ["U1", "U2", "U3", "U4", "🔄", "V1", "V2", "V3", "V4"]
    assert (
        task["buttons"][0]["customId"]
        == f"MJ::JOB::upsample::1::{task['properties']['messageHash']}"
    )
    assert task["buttons"][4]["customId"].endswith("::SOLO")
    assert {b["type"] for b in task["buttons"]} == {2} and fake.state.submissions["IMAGINE"] == 1


def test_aspect_flag_shapes_the_grid_and_niji_is_echoed(fake: Fake) -> None:
    task_id = fake.submitted(
        "/mj/submit/imagine", {"prompt": "cat --ar 2:1", "botType": "NIJI_JOURNEY"}
    )
    task = fake.finish(task_id)[-1]
    assert fake.image(task["imageUrl"]).size == (128, 64) and task["botType"] == "NIJI_JOURNEY"


def test_upscale_returns_the_chosen_tile_and_repeat_is_existed(fake: Fake) -> None:
    grid_task = imagined(fake)
    colors = grid_colors(fake.image(grid_task["imageUrl"]))
    body = {"taskId": grid_task["id"], "customId": fake.button(grid_task, "U3"), "state": "s"}
    answer = fake.post("/mj/submit/action", body).json()
    assert answer["code"] == 1
    again = fake.post("/mj/submit/action", body).json()
    assert again["code"] == 21 and again["result"] == answer["result"]
    assert again["properties"]["status"] == "NOT_START"

    upscaled = fake.finish(answer["result"])[-1]
    assert upscaled["action"] == "UPSCALE" and upscaled["parentId"] == grid_task["id"]
    assert upscaled["description"] == f"/up {grid_task['id']} U3"
    image = fake.image(upscaled["imageUrl"])
    assert image.size == (64, 64) and image.getpixel((5, 5)) == colors[2]
    labels = [b["label"] or b["emoji"] for b in upscaled["buttons"]]
    assert labels[:4] == [
        "Upscale (Subtle)",
        "Upscale (Creative)",
        "Vary (Subtle)",
        "Vary (Strong)",
    ]
    assert "Zoom Out 2x" in labels and "⬅️" in labels and "U1" not in labels
    done = fake.post("/mj/submit/action", body).json()
    assert done["code"] == 21 and done["properties"]["imageUrl"] == upscaled["imageUrl"]


@pytest.mark.parametrize(("label", "action"), [("V2", "VARIATION"), ("🔄", "REROLL")])
def test_variation_and_reroll_produce_new_grids(fake: Fake, label: str, action: str) -> None:
    grid_task = imagined(fake)
    custom_id = fake.button(grid_task, label)
    child_id = fake.submitted(
        "/mj/submit/action", {"taskId": grid_task["id"], "customId": custom_id}
    )
    child = fake.finish(child_id)[-1]
    assert child["action"] == action and child["customId"] == custom_id
    assert fake.image(child["imageUrl"]).size == (128, 128)
    assert len(child["buttons"]) == 9 and child["prompt"] == grid_task["prompt"]


def test_actions_on_an_upscale(fake: Fake) -> None:
    grid_task = imagined(fake)
    up_id = fake.submitted(
        "/mj/submit/action", {"taskId": grid_task["id"], "customId": fake.button(grid_task, "U1")}
    )
    upscaled = fake.finish(up_id)[-1]
    hd_id = fake.submitted(
        "/mj/submit/action",
        {"taskId": up_id, "customId": fake.button(upscaled, "Upscale (Subtle)")},
    )
    hd = fake.finish(hd_id)[-1]
    assert hd["action"] == "ACTION" and fake.image(hd["imageUrl"]).size == (128, 128)
    for label, action in (("Vary (Strong)", "VARIATION"), ("Zoom Out 2x", "ZOOM"), ("➡️", "PAN")):
        task_id = fake.submitted(
            "/mj/submit/action", {"taskId": up_id, "customId": fake.button(upscaled, label)}
        )
        task = fake.finish(task_id)[-1]
        assert task["action"] == action and fake.image(task["imageUrl"]).size == (128, 128)


def test_action_validation(fake: Fake) -> None:
    grid_task = imagined(fake)
    u1 = fake.button(grid_task, "U1")
    assert fake.post("/mj/submit/action", {"taskId": grid_task["id"]}).json()["code"] == 4
    missing = fake.post("/mj/submit/action", {"taskId": "404404", "customId": u1})
    assert missing.status_code == 404
    assert missing.json() == {
        "code": 3,
        "description": "关联任务不存在或已失效",
        "result": None,
        "properties": {},
    }
    pending_id = fake.submitted("/mj/submit/imagine", {"prompt": "not yet"})
    unfinished = fake.post("/mj/submit/action", {"taskId": pending_id, "customId": u1}).json()
    assert unfinished["code"] == 4 and unfinished["description"] == "关联任务状态错误"
    foreign = fake.post(
        "/mj/submit/action", {"taskId": grid_task["id"], "customId": "MJ::JOB::upsample::1::other"}
    )
    assert foreign.json()["code"] == 4
    up_id = fake.submitted("/mj/submit/action", {"taskId": grid_task["id"], "customId": u1})
    upscaled = fake.finish(up_id)[-1]
    for label in ("Custom Zoom", "Vary (Region)"):  # need /mj/submit/modal: not offered
        modal = fake.post(
            "/mj/submit/action", {"taskId": up_id, "customId": fake.button(upscaled, label)}
        )
        assert modal.json()["code"] == 4
    assert fake.post("/mj/submit/action", {"taskId": up_id, "customId": u1}).json()["code"] == 4


def test_failure_switch_ends_tasks_in_failure(fake: Fake) -> None:
    fake.state.fail_reason = "Request cancelled due to image filters"
    seen = fake.finish(fake.submitted("/mj/submit/imagine", {"prompt": "pig"}))
    final = seen[-1]
    assert [t["status"] for t in seen][-2:] == ["IN_PROGRESS", "FAILURE"]
    assert final["progress"] == "" and final["failReason"] == fake.state.fail_reason
    assert final["imageUrl"] is None and final["buttons"] == [] and final["finishTime"]
    fake.state.fail_reason = None
    assert imagined(fake)["status"] == "SUCCESS"


def test_banned_prompt_answers_24(fake: Fake) -> None:
    fake.state.banned_words = ["gore"]
    answer = fake.post("/mj/submit/imagine", {"prompt": "Some GORE please"}).json()
    banned = {"promptEn": "Some GORE please", "bannedWord": "gore"}
    assert answer == {
        "code": 24,
        "description": "可能包含敏感词",
        "result": None,
        "properties": banned,
    }
    assert fake.post("/mj/submit/imagine", {"prompt": "gorest"}).json()["code"] == 1
    assert fake.state.submissions["IMAGINE"] == 1


def test_imagine_validation_and_reference_images(fake: Fake) -> None:
    assert fake.post("/mj/submit/imagine", {"prompt": "  "}).json()["code"] == 4
    assert fake.post("/mj/submit/imagine", {}).json()["description"] == "prompt不能为空"
    bad = fake.post("/mj/submit/imagine", {"prompt": "x", "base64Array": ["aGVsbG8="]}).json()
    assert bad["code"] == 4 and bad["description"] == "base64格式错误"
    picture = "data:image/png;base64," + image_b64(32, 32)
    assert (
        fake.post("/mj/submit/imagine", {"prompt": "x", "base64Array": [picture]}).json()["code"]
        == 1
    )
    assert fake.state.requests[-1].body["base64Array"] == [f"<base64 len={len(picture)}>"]
    assert picture not in repr(fake.state.requests)
    broken = fake.client.post(
        f"{fake.base}/mj/submit/imagine", content=b"{", headers={"mj-api-secret": SECRET}
    )
    assert broken.status_code == 400 and broken.json()["error"] == "Bad Request"


def test_queue_codes(fake: Fake) -> None:
    fake.state.core_size, fake.state.max_queue_size = 1, 2
    answers = [fake.post("/mj/submit/imagine", {"prompt": f"p{i}"}).json() for i in range(4)]
    assert [a["code"] for a in answers] == [1, 1, 22, 23]
    assert answers[2]["properties"]["numberOfQueues"] == 1
    assert answers[2]["description"] == "排队中，前面还有1个任务"  # noqa: RUF001
    assert answers[3]["result"] is None and len(fake.state.tasks) == 3
    fake.finish(answers[0]["result"])
    assert fake.post("/mj/submit/imagine", {"prompt": "again"}).json()["code"] == 22


def test_secret_is_required_except_for_images(fake: Fake) -> None:
    task = imagined(fake)
    for secret in (None, "wrong"):
        denied = fake.post("/mj/submit/imagine", {"prompt": "x"}, secret=secret)
        assert denied.status_code == 401 and denied.content == b""
    assert fake.client.get(f"{fake.base}/mj/task/{task['id']}/fetch").status_code == 401
    assert fake.client.get(task["imageUrl"]).status_code == 200
    fake.state.api_secret = None
    assert fake.post("/mj/submit/imagine", {"prompt": "x"}, secret=None).json()["code"] == 1


def test_fetch_unknown_and_list_endpoints(fake: Fake) -> None:
    unknown = fake.client.get(f"{fake.base}/mj/task/123/fetch", headers={"mj-api-secret": SECRET})
    assert unknown.status_code == 200 and unknown.content == b""
    first = fake.submitted("/mj/submit/imagine", {"prompt": "a"})
    second = fake.submitted("/mj/submit/imagine", {"prompt": "b"})
    listed = fake.post("/mj/task/list-by-condition", {"ids": [first, "nope", second]}).json()
    assert [t["id"] for t in listed] == [first, second] and listed[0]["status"] == "NOT_START"
    for _ in range(4):
        listed = fake.post("/mj/task/list-by-ids", {"ids": [first]}).json()
    assert listed[0]["status"] == "SUCCESS"
    assert fake.post("/mj/task/list-by-condition", {}).json() == []
    everything = fake.client.get(
        f"{fake.base}/mj/task/list", headers={"mj-api-secret": SECRET}
    ).json()
    assert {t["id"] for t in everything} == {first, second}
    assert fake.client.get(f"{fake.base}/attachments/x/{second}/grid_0.png").status_code == 404


# --- fault switches -------------------------------------------------------------------------


@pytest.mark.parametrize("status", [500, 502, 503, 401, 403])
def test_status_faults(fake: Fake, status: int) -> None:
    fake.state.faults.queue(f"status_{status}")
    failed = fake.post("/mj/submit/imagine", {"prompt": "x"})
    assert failed.status_code == status and failed.json()["status"] == status
    assert fake.post("/mj/submit/imagine", {"prompt": "x"}).json()["code"] == 1


def test_status_429_fault_sends_retry_after(fake: Fake) -> None:
    task_id = fake.submitted("/mj/submit/imagine", {"prompt": "x"})
    fake.state.faults.retry_after = 4
    fake.state.faults.queue("status_429")
    limited = fake.client.get(
        f"{fake.base}/mj/task/{task_id}/fetch", headers={"mj-api-secret": SECRET}
    )
    assert limited.status_code == 429 and limited.headers["retry-after"] == "4"
    assert fake.fetch(task_id)["status"] == "NOT_START"  # the faulted fetch did not advance it


def test_timeout_fault_hangs_past_the_client_timeout(fake: Fake) -> None:
    fake.state.faults.hang_seconds = 1.0
    fake.state.faults.queue("timeout")
    with pytest.raises(httpx.ReadTimeout):
        fake.client.post(f"{fake.base}/mj/submit/imagine", json={"prompt": "x"},
                         headers={"mj-api-secret": SECRET}, timeout=0.3)  # fmt: skip
    assert fake.post("/mj/submit/imagine", {"prompt": "x"}).json()["code"] == 1


def test_malformed_json_fault(fake: Fake) -> None:
    fake.state.faults.queue("malformed_json")
    response = fake.post("/mj/submit/imagine", {"prompt": "x"})
    assert response.status_code == 200
    with pytest.raises(orjson.JSONDecodeError):
        orjson.loads(response.content)


def test_truncated_fault_breaks_the_body(fake: Fake) -> None:
    task = imagined(fake)
    fake.state.faults.queue("truncated")
    with pytest.raises(httpx.RemoteProtocolError):
        fake.client.get(task["imageUrl"])
    assert fake.image(task["imageUrl"]).size == (128, 128)


def test_slow_drip_fault_still_delivers_a_valid_answer(fake: Fake) -> None:
    task = imagined(fake)
    fake.state.faults.drip_delay = 0.05
    fake.state.faults.queue("slow_drip")
    started = time.monotonic()
    again = fake.fetch(task["id"])
    assert time.monotonic() - started >= 0.2  # the task JSON is well over 256 bytes
    assert again == task


def test_sticky_fault_until_cleared(fake: Fake) -> None:
    fake.state.faults.sticky = "status_502"
    assert [fake.post("/mj/submit/imagine", {"prompt": "x"}).status_code for _ in range(2)] == [
        502,
        502,
    ]
    fake.state.faults.sticky = None
    assert fake.post("/mj/submit/imagine", {"prompt": "x"}).status_code == 200
