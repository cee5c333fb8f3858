"""The load generator: fixed concurrency against one URL, run in its own process.

Each of `--concurrency` workers sends the same JSON POST in a loop on one shared
keep-alive connection pool (aiohttp, whose C parser keeps the client's own cost low). After
`--warmup` seconds the counters reset; then for `--duration` seconds it counts successes
(status 200 and the expected field in the answer) and records each latency. With
`--requests N` it instead sends exactly N requests, all at once when N equals the
concurrency (the held-open scenario), and waits for every one.

It prints one JSON object on stdout: ok, failed, seconds, rps, p50_ms, p90_ms, p99_ms,
max_ms, bytes, the first few error kinds, completed (answers including the warm-up's) and
cpu_s (this process's CPU time).

    python -m bench.loadgen --url http://127.0.0.1:8080/v1/images/generations \\
        --header 'Authorization: Bearer pg-...' --body '{"model": "gpt-image-1", "prompt": "x"}' \\
        --concurrency 32 --warmup 2 --duration 10 --expect b64_json
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import orjson

__all__ = ["LoadResult", "Loader", "main", "percentile"]


def percentile(sorted_values: list[float], q: float) -> float:
    """Nearest-rank percentile of an already sorted list (0 when empty)."""
    if not sorted_values:
        return 0.0
    rank = max(1, min(len(sorted_values), round(q / 100 * len(sorted_values) + 0.5)))
    return sorted_values[rank - 1]


@dataclass
class LoadResult:
    ok: int
    failed: int
    seconds: float
    latencies_ms: list[float]
    bytes: int
    errors: dict[str, int]

    def summary(self) -> dict[str, Any]:
        lat = sorted(self.latencies_ms)
        return {
            "ok": self.ok,
            "failed": self.failed,
            "seconds": round(self.seconds, 3),
            "rps": round(self.ok / self.seconds, 2) if self.seconds else 0.0,
            "p50_ms": round(percentile(lat, 50), 2),
            "p90_ms": round(percentile(lat, 90), 2),
            "p99_ms": round(percentile(lat, 99), 2),
            "max_ms": round(lat[-1], 2) if lat else 0.0,
            "bytes": self.bytes,
            "errors": dict(Counter(self.errors).most_common(5)),
        }


@dataclass
class Loader:
    url: str
    body: bytes
    headers: dict[str, str]
    expect: bytes
    timeout: float
    recording: bool = False
    # Every answer, warm-up included: the denominator for CPU per request.
    completed: int = 0
    ok: int = 0
    failed: int = 0
    nbytes: int = 0
    latencies_ms: list[float] = field(default_factory=list)
    errors: Counter[str] = field(default_factory=Counter)

    def reset(self) -> None:
        self.ok = self.failed = self.nbytes = 0
        self.latencies_ms = []
        self.errors = Counter()

    async def one(self, session: aiohttp.ClientSession) -> None:
        start = time.perf_counter()
        try:
            async with session.post(self.url, data=self.body, headers=self.headers) as resp:
                data = await resp.read()
                status = resp.status
        except (aiohttp.ClientError, TimeoutError) as exc:
            self.completed += 1
            if self.recording:
                self.failed += 1
                self.errors[type(exc).__name__] += 1
            return
        elapsed = (time.perf_counter() - start) * 1000
        self.completed += 1
        if not self.recording:
            return
        # Cheap success check: the field sits near the start of an OpenAI images answer.
        if status == 200 and data.find(self.expect, 0, 4096) >= 0:
            self.ok += 1
            self.nbytes += len(data)
            self.latencies_ms.append(elapsed)
        else:
            self.failed += 1
            self.errors[f"status {status}"] += 1


def _session(concurrency: int, timeout: float) -> aiohttp.ClientSession:
    connector = aiohttp.TCPConnector(limit=concurrency, limit_per_host=concurrency)
    return aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=timeout))


async def run_for(loader: Loader, concurrency: int, warmup: float, duration: float) -> LoadResult:
    """Closed loop: `concurrency` workers for warm-up + duration seconds."""
    async with _session(concurrency, loader.timeout) as session:
        stop_at = time.monotonic() + warmup + duration

        async def worker() -> None:
            while time.monotonic() < stop_at:
                await loader.one(session)

        tasks = [asyncio.create_task(worker()) for _ in range(concurrency)]
        await asyncio.sleep(warmup)
        loader.reset()
        loader.recording = True
        began = time.perf_counter()
        await asyncio.sleep(duration)
        loader.recording = False
        seconds = time.perf_counter() - began
        result = _result(loader, seconds)
        await asyncio.gather(*tasks)
    return result


async def run_count(loader: Loader, concurrency: int, requests: int) -> LoadResult:
    """Exactly `requests` requests, at most `concurrency` at a time; waits for every one."""
    loader.recording = True
    async with _session(concurrency, loader.timeout) as session:
        gate = asyncio.Semaphore(concurrency)

        async def one() -> None:
            async with gate:
                await loader.one(session)

        began = time.perf_counter()
        await asyncio.gather(*(one() for _ in range(requests)))
        seconds = time.perf_counter() - began
    return _result(loader, seconds)


def _result(loader: Loader, seconds: float) -> LoadResult:
    return LoadResult(
        loader.ok, loader.failed, seconds, loader.latencies_ms, loader.nbytes, dict(loader.errors)
    )


def _headers(raw: list[str]) -> dict[str, str]:
    headers = {"Content-Type": "application/json"}
    for item in raw:
        name, _, value = item.partition(":")
        headers[name.strip()] = value.strip()
    return headers


async def _amain(args: argparse.Namespace) -> dict[str, Any]:
    loader = Loader(
        url=args.url,
        body=args.body.encode(),
        headers=_headers(args.header),
        expect=f'"{args.expect}"'.encode(),
        timeout=args.timeout,
    )
    if args.requests:
        result = await run_count(loader, args.concurrency, args.requests)
    else:
        result = await run_for(loader, args.concurrency, args.warmup, args.duration)
    return {**result.summary(), "completed": loader.completed}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", required=True)
    parser.add_argument("--body", required=True, help="JSON request body")
    parser.add_argument("--header", action="append", default=[], help="'Name: value'")
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--warmup", type=float, default=2.0)
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("--requests", type=int, default=0, help="send exactly this many")
    parser.add_argument("--timeout", type=float, default=120.0, help="per request, seconds")
    parser.add_argument("--expect", default="b64_json", help="field a success must contain")
    args = parser.parse_args(argv)
    try:
        import uvloop

        uvloop.install()
    except ImportError:  # pragma: no cover - uvloop comes with uvicorn[standard]
        pass
    summary = asyncio.run(_amain(args))
    summary["cpu_s"] = round(time.process_time(), 3)
    sys.stdout.write(orjson.dumps(summary).decode() + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
