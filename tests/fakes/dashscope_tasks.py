"""Async task bookkeeping and response bodies of the DashScope fake.

Two result shapes exist (protocol reference §1.3 and §1.5):
  * "results" tasks (text2image / image2image): `output.results[].url` + `task_metrics`,
    `usage.image_count`;
  * "choices" tasks (image-generation, wan2.6 / wan2.7): `output.choices[].message.content[]`
    with `finished: true`, `usage.size` / token counts.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

__all__ = [
    "FakeTask",
    "choice_items",
    "multimodal_usage",
    "now_stamp",
    "result_url",
    "task_output",
]

Size = tuple[int, int]
TERMINAL = frozenset({"SUCCEEDED", "FAILED", "CANCELED", "UNKNOWN"})


def now_stamp() -> str:
    """DashScope's `YYYY-MM-DD hh:mm:ss.mmm` timestamp."""
    return datetime.now().strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]


def result_url(base: str, key: str) -> str:
    """A link shaped like DashScope's signed OSS result URLs, served by the fake itself."""
    expires = int(time.time()) + 86400
    signature = hashlib.sha1(key.encode()).hexdigest()[:27]
    return f"{base}/oss/{key}.png?Expires={expires}&OSSAccessKeyId=LTAIfake&Signature={signature}"


@dataclass
class FakeTask:
    task_id: str
    model: str
    kind: str  # "results" or "choices"
    family: str
    prompt: str
    prompt_extend: bool
    sizes: list[Size]
    input_images: int
    submit_time: str = field(default_factory=now_stamp)
    scheduled_time: str | None = None
    end_time: str | None = None
    status: str = "PENDING"
    polls: int = 0
    keys: list[str] = field(default_factory=list)  # result image keys once SUCCEEDED
    failed: int = 0  # entries of `results` that carry code/message instead of url

    def advance(self, steps: int) -> bool:
        """Count one poll; True when this poll finishes the task (after `steps` earlier polls)."""
        if self.status in TERMINAL:
            return False
        self.polls += 1
        if self.polls > steps:
            return True
        self.status = "PENDING" if self.polls == 1 else "RUNNING"
        if self.status == "RUNNING" and self.scheduled_time is None:
            self.scheduled_time = now_stamp()
        return False

    def finish(self, failed: bool, keys: list[str]) -> None:
        self.status = "FAILED" if failed else "SUCCEEDED"
        self.scheduled_time = self.scheduled_time or now_stamp()
        self.end_time = now_stamp()
        self.keys = keys


def multimodal_usage(family: str, sizes: list[Size], prompt: str, images: int) -> dict[str, Any]:
    w, h = sizes[0]
    if family.startswith("qwen"):
        return {"height": h, "image_count": len(sizes), "width": w}
    input_tokens = output_tokens = 0
    if family.startswith("wan27"):
        input_tokens = len(prompt) // 4 + 1024 * images
        output_tokens = 2 * len(sizes)
    return {
        "image_count": len(sizes),
        "input_tokens": input_tokens,
        "output_tokens": output_tokens,
        "size": f"{w}*{h}",
        "total_tokens": input_tokens + output_tokens,
    }


def choice_items(family: str, urls: list[str]) -> list[dict[str, Any]]:
    """Wan answers one choice per image; Qwen one choice holding every image."""
    if family.startswith("qwen"):
        content: list[dict[str, Any]] = [{"image": url} for url in urls]
        return [{"finish_reason": "stop", "message": {"role": "assistant", "content": content}}]
    return [
        {
            "finish_reason": "stop",
            "message": {"role": "assistant", "content": [{"image": url, "type": "image"}]},
        }
        for url in urls
    ]


def task_output(
    task: FakeTask, urls: list[str], error: tuple[str, str]
) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """(output, usage) of a task poll; `error` is the (code, message) of failures."""
    out: dict[str, Any] = {"task_id": task.task_id, "task_status": task.status}
    out["submit_time"] = task.submit_time
    if task.scheduled_time:
        out["scheduled_time"] = task.scheduled_time
    if task.end_time:
        out["end_time"] = task.end_time
    total = len(task.sizes)
    if task.status == "FAILED":
        out["code"], out["message"] = error
        return out, None
    if task.kind == "choices":
        if task.status != "SUCCEEDED":
            return out, None
        out["finished"] = True
        out["choices"] = choice_items(task.family, urls)
        usage = multimodal_usage(task.family, task.sizes, task.prompt, task.input_images)
        return out, usage
    succeeded = total - task.failed if task.status == "SUCCEEDED" else 0
    if task.status == "SUCCEEDED":
        results: list[dict[str, Any]] = []
        for url in urls:
            item = {"orig_prompt": task.prompt, "url": url}
            if task.prompt_extend:
                item["actual_prompt"] = f"{task.prompt}, highly detailed"
            results.append(item)
        results += [{"code": error[0], "message": error[1]} for _ in range(task.failed)]
        out["results"] = results
    failed = task.failed if task.status == "SUCCEEDED" else 0
    out["task_metrics"] = {"TOTAL": total, "SUCCEEDED": succeeded, "FAILED": failed}
    return out, ({"image_count": succeeded} if task.status == "SUCCEEDED" else None)
