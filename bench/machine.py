"""What the benchmark ran on: cores, memory, CPU model, load average, date."""

from __future__ import annotations

import os
import platform
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

__all__ = ["Machine", "load_average", "machine"]


@dataclass(frozen=True)
class Machine:
    nproc: int
    memory_gib: float
    cpu_model: str
    python: str
    kernel: str
    date: str


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _memory_gib() -> float:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return round(int(line.split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    return 0.0


def load_average() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f} {five:.2f} {fifteen:.2f}"


def machine() -> Machine:
    return Machine(
        nproc=os.cpu_count() or 1,
        memory_gib=_memory_gib(),
        cpu_model=_cpu_model(),
        python=platform.python_version(),
        kernel=platform.release(),
        date=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
    )
