"""`make bench`: start the fakes, the gateways and LiteLLM, run every scenario once, print
the table and rewrite docs/benchmarks.md.

Scenarios (issue 9): (a) sync b64_json generations at concurrency 32, gateway vs the same
load sent straight to the fake; (b) the same with response_format=url; (c) 2,000 requests
held open by a 20 s upstream: success rate and the gateway's peak RSS; (d) LiteLLM's proxy
on the same fake under load (a). Plus the unloaded (concurrency 1) latency each adds, and
the upstream client measured both ways (aiohttp vs httpx).
"""

from __future__ import annotations

import argparse
import os
import resource
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import orjson

from bench.machine import load_average, machine
from bench.procs import RssSampler, system_ticks, tree_cpu_s, tree_rss_kb
from bench.report import Report
from bench.stack import FAST_MODEL, SLOW_MODEL, Service, start_fake, start_gateway, start_litellm

__all__ = ["main"]

ROOT = Path(__file__).resolve().parent.parent
PROMPT = "a lighthouse at dusk, watercolor"


def raise_nofile(wanted: int) -> int:
    """Lift the open-files limit for this process and its children (2,000 client sockets
    plus 2,000 upstream sockets do not fit in the usual 1,024)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < wanted:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, wanted))
            return wanted
        except (ValueError, OSError):
            wanted = hard
    if soft < wanted:
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def load(
    service: Service, body: dict[str, Any], expect: str, watch: dict[str, Service], **opts: float
) -> dict[str, Any]:
    """Run the load generator in its own process and return its summary, with the CPU
    each watched process tree (and the load generator) spent per answer, the cores spent
    in interrupts (loopback TCP, charged to no process) and by everything else."""
    argv = [sys.executable, "-m", "bench.loadgen", "--url", service.generations]
    argv += ["--header", f"Authorization: Bearer {service.key}"]
    argv += ["--body", orjson.dumps(body).decode(), "--expect", expect]
    for name, value in opts.items():
        argv += [f"--{name}", str(value)]
    before = {name: tree_cpu_s(s.proc.pid) for name, s in watch.items()}
    busy0, irq0 = system_ticks()
    began = time.monotonic()
    done = subprocess.run(argv, capture_output=True, text=True, check=True, timeout=900)
    wall = time.monotonic() - began
    busy1, irq1 = system_ticks()
    result: dict[str, Any] = orjson.loads(done.stdout.strip().splitlines()[-1])
    answers = max(1, int(result["completed"]))
    cpu = {name: tree_cpu_s(s.proc.pid) - before[name] for name, s in watch.items()}
    cpu["client"] = float(result["cpu_s"])
    result["cpu_ms"] = {name: round(1000 * sec / answers, 2) for name, sec in cpu.items()}
    irq = irq1 - irq0
    result["irq_cores"] = round(irq / wall, 2)
    result["other_cores"] = round(max(0.0, busy1 - busy0 - irq - sum(cpu.values())) / wall, 2)
    return result


def _ratio(a: float, b: float) -> float:
    return round(a / b, 2) if b else 0.0


def run(args: argparse.Namespace, report: Report, work: Path) -> None:
    only = args.only
    b64 = {"model": FAST_MODEL, "prompt": PROMPT, "size": "1024x1024"}
    url = {**b64, "response_format": "url"}
    closed = {"concurrency": args.concurrency, "warmup": args.warmup, "duration": args.duration}
    single = {"concurrency": 1, "warmup": 1.0, "duration": args.duration / 2}
    workers = str(args.workers)
    stack: list[Service] = []
    try:
        fast = start_fake("fake-fast", work)
        stack.append(fast)
        if only & {"a", "b", "d"}:
            closed_loop(args, report, work, fast, stack, b64, url, closed, single, workers)
        for service in stack[1:]:
            service.proc.stop()
        if "c" in only:
            held(args, report, work, fast, args.held_b64_bytes)
            if args.held_small_b64_bytes:
                held(args, report, work, fast, args.held_small_b64_bytes)
    finally:
        for service in reversed(stack):
            service.proc.stop()
    summarise(report, args)


def closed_loop(
    args: argparse.Namespace,
    report: Report,
    work: Path,
    fast: Service,
    stack: list[Service],
    b64: dict[str, str],
    url: dict[str, str],
    closed: dict[str, float],
    single: dict[str, float],
    workers: str,
) -> None:
    """(a), (b) and (d): closed-loop runs against gateways that stay up for all of them."""
    only = args.only
    gw = start_gateway("pixelgate", work, fast, None, workers=workers)
    stack.append(gw)
    if "a" in only:
        gw_httpx = start_gateway(
            "pixelgate-httpx", work, fast, None, workers=workers, upstream_client="httpx"
        )
        stack.append(gw_httpx)
        gw_one = start_gateway("pixelgate-1-worker", work, fast, None, workers="1")
        stack.append(gw_one)
    litellm = None
    if "d" in only and args.litellm:
        litellm = start_litellm(Path(args.litellm), work, fast, args.workers)
        stack.append(litellm)
    report.notes.append(f"Load average before the runs: {load_average()}.")
    runs = report.runs
    up = {"upstream": fast}
    if "a" in only:
        runs["direct c=1"] = load(fast, b64, "b64_json", up, **single)
        runs["pixelgate c=1"] = load(gw, b64, "b64_json", {"gateway": gw, **up}, **single)
    runs["direct"] = load(fast, b64, "b64_json", up, **closed)
    runs["pixelgate"] = load(gw, b64, "b64_json", {"gateway": gw, **up}, **closed)
    if "b" in only:
        runs["pixelgate url"] = load(gw, url, "url", {"gateway": gw, **up}, **closed)
    if "a" in only:
        runs["pixelgate httpx"] = load(
            gw_httpx, b64, "b64_json", {"gateway": gw_httpx, **up}, **closed
        )
        runs["pixelgate 1 worker"] = load(
            gw_one, b64, "b64_json", {"gateway": gw_one, **up}, **closed
        )
    if litellm is not None:
        runs["litellm"] = load(litellm, b64, "b64_json", {"gateway": litellm, **up}, **closed)
    runs["direct (again)"] = load(fast, b64, "b64_json", up, **closed)
    report.notes.append(f"Load average after the closed-loop runs: {load_average()}.")


def held(args: argparse.Namespace, report: Report, work: Path, fast: Service, size: int) -> None:
    """(c): a fresh gateway, every request sent at once, the slow fake holding each and
    then answering with a `size`-byte base64 image."""
    slow = start_fake(f"fake-slow-{size}", work, delay=args.held_delay, b64_bytes=size)
    gw = start_gateway(f"pixelgate-held-{size}", work, fast, slow, workers=str(args.workers))
    try:
        idle_kb = tree_rss_kb(gw.proc.pid)
        body = {"model": SLOW_MODEL, "prompt": PROMPT, "size": "1024x1024"}
        began = time.monotonic()
        with RssSampler(gw.proc.pid) as sampler:
            result = load(
                gw,
                body,
                "b64_json",
                {"gateway": gw, "upstream": slow},
                requests=args.held,
                concurrency=args.held,
                timeout=args.held_delay + 120,
            )
        result["idle_rss_mb"] = round(idle_kb / 1024, 1)
        result["peak_rss_mb"] = round(sampler.peak_kb / 1024, 1)
        # While every request is held and no answer has come back yet.
        holding = sampler.peak_before(began + args.held_delay - 1)
        result["holding_rss_mb"] = round(holding / 1024, 1)
        report.runs[_held_name(args.held, size)] = result
    finally:
        gw.proc.stop()
        slow.proc.stop()


def _held_name(count: int, size: int) -> str:
    return f"pixelgate held {count}, {_size(size)} answers"


def _size(size: int) -> str:
    return f"{size / 1e6:g} MB" if size >= 1_000_000 else f"{size / 1e3:g} KB"


def _cpu_rows(report: Report, direct: dict[str, Any], gw: dict[str, Any], cores: int) -> None:
    """What each answer cost in CPU, and the throughput ratio those costs allow on
    `cores` cores with nothing else running (the load generator is one process, so it
    never gets more than one core)."""
    d, g = direct["cpu_ms"], gw["cpu_ms"]
    d_total = d["client"] + d["upstream"]
    g_total = g["client"] + g["gateway"] + g["upstream"]
    report.add(
        "(a) CPU per answer: direct / through pixelgate",
        f"{d_total:.2f} ms (client {d['client']}, upstream {d['upstream']}) / "
        f"{g_total:.2f} ms (client {g['client']}, gateway {g['gateway']}, "
        f"upstream {g['upstream']})",
    )
    direct_max = min(1000 / d["client"], cores * 1000 / d_total)
    gw_max = min(1000 / g["client"], cores * 1000 / g_total)
    report.add(
        f"(a) throughput ratio those CPU costs allow on {cores} otherwise idle cores",
        f"{_ratio(gw_max, direct_max)}x",
    )


def summarise(report: Report, args: argparse.Namespace) -> None:
    runs = report.runs
    if "direct" in runs:
        _closed_rows(report, args)
    if "c" in args.only:
        _held_rows(report, args)


def _closed_rows(report: Report, args: argparse.Namespace) -> None:
    runs = report.runs
    direct = [runs["direct"], runs["direct (again)"]]
    d_rps = sum(r["rps"] for r in direct) / 2
    d_p50 = sum(r["p50_ms"] for r in direct) / 2
    d_p99 = sum(r["p99_ms"] for r in direct) / 2
    gw = runs["pixelgate"]
    c = args.concurrency
    ratio = _ratio(gw["rps"], d_rps)
    report.add(
        f"(a) b64_json c={c}: throughput pixelgate / direct",
        f"{ratio}x ({gw['rps']} vs {d_rps:.1f} req/s)",
        "≥ 0.7x",
        ratio >= 0.7,
    )
    added = round(gw["p50_ms"] - d_p50, 1)
    report.add(
        f"(a) b64_json c={c}: added p50",
        f"{added} ms ({gw['p50_ms']} vs {d_p50:.1f} ms)",
        "≤ 5 ms",
        added <= 5,
    )
    report.add(
        f"(a) b64_json c={c}: p99 pixelgate / direct",
        f"{_ratio(gw['p99_ms'], d_p99)}x ({gw['p99_ms']} vs {d_p99:.1f} ms)",
    )
    _cpu_rows(report, runs["direct"], gw, os.cpu_count() or 1)
    if "direct c=1" in runs:
        one, gw_one = runs["direct c=1"], runs["pixelgate c=1"]
        report.add(
            "(a) unloaded (c=1): added p50",
            f"{round(gw_one['p50_ms'] - one['p50_ms'], 1)} ms "
            f"({gw_one['p50_ms']} vs {one['p50_ms']} ms)",
        )
    if "pixelgate url" in runs:
        url = runs["pixelgate url"]
        report.add(
            f"(b) url c={c}: throughput pixelgate / direct",
            f"{_ratio(url['rps'], d_rps)}x ({url['rps']} req/s)",
        )
        report.add(
            f"(b) url c={c}: p50 / p99",
            f"{url['p50_ms']} / {url['p99_ms']} ms (direct {d_p50:.1f} / {d_p99:.1f} ms)",
        )
    if "litellm" in runs:
        lite = runs["litellm"]
        rps_ratio = _ratio(gw["rps"], lite["rps"])
        report.add(
            f"(d) throughput pixelgate / LiteLLM (c={c})",
            f"{rps_ratio}x ({gw['rps']} vs {lite['rps']} req/s)",
            "≥ 2x",
            rps_ratio >= 2,
        )
        report.add(
            "(d) p99 pixelgate / LiteLLM",
            f"{_ratio(gw['p99_ms'], lite['p99_ms'])}x ({gw['p99_ms']} vs {lite['p99_ms']} ms)",
        )
    if "pixelgate 1 worker" in runs:
        single_worker = runs["pixelgate 1 worker"]
        report.add(
            f"(a) the same with 1 worker instead of {args.workers}: pixelgate / direct",
            f"{_ratio(single_worker['rps'], d_rps)}x ({single_worker['rps']} req/s, "
            f"gateway CPU {single_worker['cpu_ms']['gateway']} ms/answer)",
        )
    if "pixelgate httpx" in runs:
        hx = runs["pixelgate httpx"]
        report.add(
            "upstream client: aiohttp / httpx throughput",
            f"{_ratio(gw['rps'], hx['rps'])}x ({gw['rps']} vs {hx['rps']} req/s; "
            f"p99 {gw['p99_ms']} vs {hx['p99_ms']} ms)",
        )


def _held_rows(report: Report, args: argparse.Namespace) -> None:
    runs = report.runs
    sizes = [args.held_b64_bytes]
    if args.held_small_b64_bytes:
        sizes.append(args.held_small_b64_bytes)
    for size in sizes:
        held_run = runs[_held_name(args.held, size)]
        success = round(100 * held_run["ok"] / args.held, 2)
        report.add(
            f"(c) {args.held} held {args.held_delay:g} s, {_size(size)} answers: success",
            f"{success} % ({held_run['ok']}/{args.held})",
            "100 %",
            held_run["ok"] == args.held,
        )
        report.add(
            f"(c) {args.held} held, {_size(size)} answers: gateway peak RSS",
            f"{held_run['peak_rss_mb']} MB (idle {held_run['idle_rss_mb']} MB, "
            f"{held_run['holding_rss_mb']} MB while all were held)",
            "≤ 500 MB",
            held_run["peak_rss_mb"] <= 500,
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--warmup", type=float, default=3.0)
    parser.add_argument("--duration", type=float, default=15.0)
    parser.add_argument("--held", type=int, default=2000)
    parser.add_argument("--held-delay", type=float, default=20.0)
    parser.add_argument("--held-b64-bytes", type=int, default=1_500_000)
    parser.add_argument(
        "--held-small-b64-bytes",
        type=int,
        default=16_000,
        help="a second held run with small answers: the cost of holding alone (0: skip)",
    )
    parser.add_argument("--litellm", default="", help="path of LiteLLM's `litellm` command")
    parser.add_argument(
        "--only",
        default="abcd",
        help="scenarios to run, e.g. 'c' or 'ab' (default: all); a partial run only prints "
        "its table unless --out is given",
    )
    parser.add_argument("--out", default="")
    args = parser.parse_args(argv)
    args.only = set(args.only) & set("abcd")
    if not args.only:
        parser.error("--only takes letters among a, b, c, d")
    if not args.out and args.only == set("abcd"):
        args.out = str(ROOT / "docs" / "benchmarks.md")
    nofile = raise_nofile(65536)
    command = "make bench" if os.environ.get("MAKELEVEL") else shlex.join(sys.argv)
    settings = {"workers": str(args.workers), "concurrency": str(args.concurrency)}
    settings |= {"duration": f"{args.duration:g}s", "warm-up": f"{args.warmup:g}s"}
    settings["open files"] = str(nofile)
    report = Report(machine(), command, settings)
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="pixelgate-bench-") as tmp:
        run(args, report, Path(tmp))
    report.notes.append(f"The whole run took {time.monotonic() - started:.0f} s.")
    print(report.table())
    print()
    print(report.runs_table())
    if args.out:
        Path(args.out).write_text(report.markdown(ROOT / "bench" / "NOTES.md"))
        print(f"\nwrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
