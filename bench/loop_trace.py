"""What the event loop of `tether serve` (or the bare broker) does besides the messages, under
bench/mqtt_broker.py's fixed-rate latency load, and which messages it holds (issue 17, the 10k/s tail).

    .venv/bin/python bench/loop_trace.py                # serve, 10,000 msg/s, 8 s after a 1 s warm-up
    .venv/bin/python bench/loop_trace.py --target bare --rate 1000
    .venv/bin/python bench/loop_trace.py --from-start --seconds 5  # as mqtt_broker.py: from the start

The server runs under bench/loop_probe_serve.py (uvloop; every task step, MQTT read and flush and collector
pass timed, wall and the loop thread's CPU); the generator is mqtt_broker.py's `latency` scenario, each
message's receipt time kept. Both clocks are CLOCK_MONOTONIC. Printed:

- per kind of run on the loop (a task's coroutine, "mqtt read", "mqtt flush", "gc generation N"): runs/s,
  CPU ms/s, CPU p50/p99/max, runs over 100 us per second;
- the loop's other work (not the messages'): CPU ms/s, runs over 200 us, and the share of the time during
  which a message arriving would wait more than 100 us for the run in progress to end (from CPU times, so
  that the machine's other load, which stretches wall times, moves it little: what a quiet machine would
  see, as a model);
- messages held: those that arrived while such a run held the loop for more than 50 us of their wait, by
  culprit (wall times: on a loaded machine preemption stretches them; compare runs, not single figures).

The probe slows the server: latency figures printed here are not the benchmark's.
"""

from __future__ import annotations

import argparse
import bisect
import collections
import os
import pickle
import signal
import sys
import tempfile
import time
from pathlib import Path

import uvloop

sys.path.insert(0, str(Path(__file__).resolve().parent))
import mqtt_broker as mb

MESSAGE_WORK = {"mqtt read", "mqtt flush", "select"}
Run = tuple[int, int, str, int]  # start ns, end ns, name, loop thread CPU ns


class _Received(list[float]):
    """The latency list mqtt_broker.py's subscriber appends to; also keeps (received ns, latency ms)."""

    def __init__(self) -> None:
        super().__init__()
        self.timed: list[tuple[int, float]] = []

    def append(self, latency: float) -> None:
        super().append(latency)
        self.timed.append((time.perf_counter_ns(), latency))


async def _load(port: int, pid: int, args: argparse.Namespace) -> tuple[list[tuple[int, float]], float]:
    received = _Received()

    async def opener(port: int, name: str, latency: list[float] | None = None) -> mb.MqttConnection:
        return await mb.open_client(port, name, latency=received if latency is not None else None)

    if not args.from_start:
        await mb.latency(port, 1, args.rate)  # warm-up, not recorded
        os.kill(pid, signal.SIGUSR1)
    cpu = mb.cpu_seconds(pid)
    await mb.latency(port, args.seconds, args.rate, opener)
    cpu = mb.cpu_seconds(pid) - cpu
    os.kill(pid, signal.SIGUSR1)
    return received.timed, cpu


def per_kind(trace: list[Run], span: float) -> None:
    by: dict[str, list[int]] = collections.defaultdict(list)
    for _a, _b, name, cpu in trace:
        if name != "select":
            by[name].append(cpu)
    print(f"{'runs/s':>8} {'CPU ms/s':>8} {'p50 us':>7} {'p99 us':>7} {'max us':>7} {'>100us/s':>8}  run")
    for name, cpus in sorted(by.items(), key=lambda kv: -sum(kv[1]))[:14]:
        cpus.sort()
        p50, p99 = cpus[len(cpus) // 2], cpus[min(len(cpus) - 1, int(0.99 * len(cpus)))]
        over = sum(c > 100_000 for c in cpus) / span
        print(
            f"{len(cpus) / span:8.1f} {sum(cpus) / span / 1e6:8.2f} {p50 / 1e3:7.0f} {p99 / 1e3:7.0f} "
            f"{cpus[-1] / 1e3:7.0f} {over:8.1f}  {name}"
        )


def other_work(trace: list[Run], lo: int, hi: int) -> None:
    span = (hi - lo) / 1e9
    runs = [cpu for a, _b, name, cpu in trace if name not in MESSAGE_WORK and lo <= a <= hi]
    waiting = sum(max(0, c - 100_000) for c in runs) / span / 1e7  # percent of the time
    print(
        f"other loop work over {span:.1f} s: {len(runs) / span:.1f} runs/s, "
        f"CPU {sum(runs) / span / 1e6:.2f} ms/s, "
        f"{sum(c > 200_000 for c in runs)} runs over 200 us; a message arriving would wait > 100 us "
        f"{waiting:.3f}% of the time"
    )


def held(trace: list[Run], messages: list[tuple[int, float]]) -> None:
    reads = [r[0] for r in trace if r[2] == "mqtt read"]
    others = [r for r in trace if r[2] not in MESSAGE_WORK]
    starts = [r[0] for r in others]
    lo, hi = trace[0][0], trace[-1][1]
    culprits: collections.Counter[str] = collections.Counter()
    total = 0
    for received, latency in messages:
        sent = received - int(latency * 1e6)
        i = bisect.bisect_left(reads, sent)
        if sent < lo or received > hi or i >= len(reads):
            continue
        total += 1
        read = reads[i]
        k = max(0, bisect.bisect_left(starts, sent) - 10)
        overlap: collections.Counter[str] = collections.Counter()
        while k < len(others) and others[k][0] < read:
            a, b, name, _cpu = others[k]
            if (o := min(b, read) - max(a, sent)) > 0:
                overlap[name] += o
            k += 1
        if sum(overlap.values()) > 50_000:
            culprits[overlap.most_common(1)[0][0]] += 1
    count = sum(culprits.values())
    print(
        f"messages held > 50 us by other loop work: {count} of {total} ({count / max(total, 1) * 100:.3f}%)"
    )
    for name, n in culprits.most_common(6):
        print(f"  {n:6d}  {name}")


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--target", choices=("serve", "bare"), default="serve")
    parser.add_argument("--rate", type=int, default=10_000)
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument(
        "--from-start", action="store_true", help="record from the server's start, no warm-up"
    )
    parser.add_argument("--keep", help="also write the trace and the messages to KEEP.trace, KEEP.msgs")
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="loop-trace-"))
    report = workdir / "probe.txt"
    broker = mb.tether_broker(workdir, args.target, args.target == "serve")
    at = broker.command.index("-m")
    probe = [str(Path(__file__).resolve().parent / "loop_probe_serve.py")]
    broker.command[at : at + 2] = probe if args.target == "serve" else [*probe, "--broker"]
    os.environ["BENCH_LOOP_PROBE"] = str(report)
    if args.from_start:
        os.environ["BENCH_LOOP_PROBE_FROM_START"] = "1"
    broker.start()
    try:
        assert broker.proc is not None
        if not args.from_start:
            time.sleep(1)
        messages, cpu = uvloop.run(_load(broker.port, broker.proc.pid, args))
        for _ in range(100):
            if Path(f"{report}.trace").exists():
                break
            time.sleep(0.1)
        time.sleep(0.5)
    finally:
        broker.stop()
    with open(f"{report}.trace", "rb") as f:
        trace: list[Run] = sorted(pickle.load(f))
    if args.keep:
        Path(f"{args.keep}.trace").write_bytes(Path(f"{report}.trace").read_bytes())
        with open(f"{args.keep}.msgs", "wb") as out:
            pickle.dump(messages, out)
    measured = messages[len(messages) // 10 :]  # mqtt_broker.py drops the first tenth
    lo = measured[0][0] - int(measured[0][1] * 1e6)
    span = (trace[-1][1] - trace[0][0]) / 1e9
    print(
        f"{args.target} at {args.rate}/s, {len(messages)} messages, load average {os.getloadavg()[0]:.2f}, "
        f"server CPU {cpu / args.seconds * 100:.0f}% (probe included)"
    )
    per_kind(trace, span)
    other_work(trace, lo, measured[-1][0])
    held(trace, measured)
    return 0


if __name__ == "__main__":
    sys.exit(main())
