"""Child processes of a benchmark run: start with a log file, wait for health, stop the
whole process group, and sample the resident memory of a process tree."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

__all__ = ["Proc", "RssSampler", "free_port", "start", "system_ticks", "tree_cpu_s", "tree_rss_kb"]

_TICK = os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class Proc:
    name: str
    popen: subprocess.Popen[bytes]
    log: Path

    @property
    def pid(self) -> int:
        return self.popen.pid

    def wait_http(self, url: str, timeout: float) -> None:
        """Until `url` answers 200 (or the process dies, or time runs out)."""
        deadline = time.monotonic() + timeout
        while True:
            if self.popen.poll() is not None:
                raise RuntimeError(f"{self.name} exited early; see {self.log}")
            try:
                if httpx.get(url, timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"{self.name} did not become healthy; see {self.log}")
            time.sleep(0.2)

    def wait_log(self, text: str, count: int, timeout: float) -> None:
        """Until `text` appears `count` times in the log (e.g. one startup line per worker,
        so no measurement starts while a worker is still importing)."""
        deadline = time.monotonic() + timeout
        while self.log.read_text(errors="replace").count(text) < count:
            if self.popen.poll() is not None:
                raise RuntimeError(f"{self.name} exited early; see {self.log}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"{self.name}: {count} x {text!r} not seen; see {self.log}")
            time.sleep(0.2)

    def stop(self) -> None:
        """SIGTERM to the process group (workers included), SIGKILL after 15 s."""
        if self.popen.poll() is not None:
            return
        try:
            os.killpg(self.popen.pid, signal.SIGTERM)
            self.popen.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(self.popen.pid, signal.SIGKILL)
            self.popen.wait()
        except ProcessLookupError:
            pass


def start(name: str, argv: list[str], env: dict[str, str], log_dir: Path) -> Proc:
    """Start `argv` in its own process group, output to `log_dir/name.log`."""
    log = log_dir / f"{name}.log"
    with open(log, "wb") as out:
        popen = subprocess.Popen(
            argv, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    return Proc(name, popen, log)


def _children(pid: int) -> list[int]:
    found: list[int] = []
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            text = Path(f"/proc/{pid}/task/{task}/children").read_text()
            found += [int(c) for c in text.split()]
    except OSError:
        pass
    return found


def tree_rss_kb(pid: int) -> int:
    """VmRSS of `pid` and all its descendants, in kB (0 for processes already gone)."""
    total, stack = 0, [pid]
    while stack:
        current = stack.pop()
        try:
            for line in Path(f"/proc/{current}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
                    break
        except OSError:
            continue
        stack += _children(current)
    return total


def _tree(pid: int) -> list[int]:
    found, stack = [], [pid]
    while stack:
        current = stack.pop()
        found.append(current)
        stack += _children(current)
    return found


def tree_cpu_s(pid: int) -> float:
    """User + system CPU seconds of `pid` and its live descendants."""
    ticks = 0
    for current in _tree(pid):
        try:
            fields = Path(f"/proc/{current}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        ticks += int(fields[11]) + int(fields[12])  # utime, stime
    return ticks / _TICK


def system_ticks() -> tuple[float, float]:
    """(busy, interrupt) CPU seconds of the whole machine since boot, from /proc/stat:
    busy is user + nice + system + irq + softirq (not idle, iowait or a hypervisor's
    steal); interrupt is irq + softirq, which is charged to no process."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    user, nice, system, _idle, _iowait, irq, softirq = values[:7]
    return (user + nice + system + irq + softirq) / _TICK, (irq + softirq) / _TICK


@dataclass
class RssSampler:
    """Samples tree_rss_kb(pid) every `interval` seconds in a thread; keeps the peak and
    every (monotonic time, kB) sample."""

    pid: int
    interval: float = 0.1
    peak_kb: int = 0
    samples: list[tuple[float, int]] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def __enter__(self) -> RssSampler:
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()

    def _run(self) -> None:
        while not self._stop.is_set():
            kb = tree_rss_kb(self.pid)
            self.samples.append((time.monotonic(), kb))
            self.peak_kb = max(self.peak_kb, kb)
            self._stop.wait(self.interval)

    def peak_before(self, moment: float) -> int:
        return max((kb for at, kb in self.samples if at < moment), default=0)
