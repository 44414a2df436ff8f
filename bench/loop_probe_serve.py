"""`tether serve` (or, with ``--broker`` first, `python -m tether.broker`) with an event-loop probe switched
by SIGUSR1: the first signal starts recording (or $BENCH_LOOP_PROBE_FROM_START starts it with the process),
the next writes to $BENCH_LOOP_PROBE what ran on the loop meanwhile, and to $BENCH_LOOP_PROBE.trace every
timed run (start ns, end ns, name, CPU ns of the loop's thread; pickled). For finding what holds a message
in the latency tail (bench/README.md, "the 10k/s tail"; bench/loop_trace.py reads both files); it slows
the server: not for figures.

On uvloop (the default, as `tether serve` runs) it times what is Python: the MQTT connections' reads
(``data_received``), the write batcher's flushes, and every step of every task (a task factory wraps each
coroutine). With ``--asyncio`` first the server runs on the stock asyncio loop and every callback is timed
(``Handle._run``), plus each selector wait. Both record the collector's passes. The clock is
CLOCK_MONOTONIC (``time.perf_counter_ns``), the generator's too, so each message can be matched with what
the server was doing when it arrived."""

from __future__ import annotations

import array
import asyncio
import asyncio.events
import collections
import gc
import os
import pickle
import selectors
import signal
import sys
import threading
import time
from collections.abc import Callable, Coroutine, Generator
from types import FrameType
from typing import Any

import uvloop

_on = False
_started = 0
#: flat (start ns, end ns, name id, thread CPU ns) quadruples: a list of tuples growing by 20k a second
#: would make the collector's passes long enough to show in the latency it is meant to explain
_trace = array.array("q")
_names: dict[str, int] = {"select": 0}


def _record(t0: int, t1: int, name: str, cpu: int = 0) -> None:
    _trace.extend((t0, t1, _names.setdefault(name, len(_names)), cpu))


def _timed(name: str, function: Callable[..., Any]) -> Callable[..., Any]:
    def timed(*args: Any) -> Any:
        if not _on:
            return function(*args)
        t0 = time.perf_counter_ns()
        c0 = time.thread_time_ns()
        try:
            return function(*args)
        finally:
            _record(t0, time.perf_counter_ns(), name, time.thread_time_ns() - c0)

    return timed


class _TimedCoroutine(Coroutine[Any, Any, Any]):
    """A task's coroutine whose every step (send/throw) is timed under the coroutine's name."""

    __slots__ = ("_coro", "_name")

    def __init__(self, coro: Coroutine[Any, Any, Any]) -> None:
        self._coro = coro
        self._name = "task " + getattr(coro, "__qualname__", type(coro).__name__)

    def send(self, value: Any) -> Any:
        if not _on:
            return self._coro.send(value)
        t0 = time.perf_counter_ns()
        c0 = time.thread_time_ns()
        try:
            return self._coro.send(value)
        finally:
            _record(t0, time.perf_counter_ns(), self._name, time.thread_time_ns() - c0)

    def throw(self, *args: Any) -> Any:
        return self._coro.throw(*args)

    def close(self) -> None:
        self._coro.close()

    def __await__(self) -> Generator[Any, None, Any]:
        return self._coro.__await__()

    def __getattr__(self, name: str) -> Any:  # cr_frame, __qualname__ ... for whoever looks
        return getattr(self._coro, name)


def _task_factory(loop: asyncio.AbstractEventLoop, coro: Any, **kwargs: Any) -> asyncio.Task[Any]:
    return asyncio.Task(_TimedCoroutine(coro), loop=loop, **kwargs)


def _patch_tether() -> None:
    from tether.broker.listener import MQTTProtocol
    from tether.broker.transport import WriteBatcher

    MQTTProtocol.data_received = _timed("mqtt read", MQTTProtocol.data_received)  # type: ignore[method-assign]
    WriteBatcher._flush = _timed("mqtt flush", WriteBatcher._flush)  # type: ignore[method-assign]


def _uvloop() -> asyncio.AbstractEventLoop:
    loop = uvloop.new_event_loop()
    loop.set_task_factory(_task_factory)
    return loop


# ------------------------------------------------------------------------------ the stock loop (--asyncio)

_original_run = asyncio.events.Handle._run


def _handle_run(self: asyncio.Handle) -> None:
    if not _on:
        return _original_run(self)
    t0 = time.perf_counter_ns()
    c0 = time.thread_time_ns()
    _original_run(self)
    c1 = time.thread_time_ns()
    cb = self._callback  # type: ignore[attr-defined]
    owner = getattr(cb, "__self__", None)
    if isinstance(owner, asyncio.Task):
        name = "task " + getattr(owner.get_coro(), "__qualname__", "?")
    else:
        name = getattr(cb, "__qualname__", None) or repr(cb)
    _record(t0, time.perf_counter_ns(), name, c1 - c0)
    return None


class _TimedSelector(selectors.DefaultSelector):
    def select(self, timeout: float | None = None) -> list[tuple[selectors.SelectorKey, int]]:
        t0 = time.perf_counter_ns()
        ready = super().select(timeout)
        if _on:
            _record(t0, time.perf_counter_ns(), "select")
        return ready


def _asyncio() -> asyncio.AbstractEventLoop:
    asyncio.events.Handle._run = _handle_run  # type: ignore[method-assign]
    return asyncio.SelectorEventLoop(_TimedSelector())


# ------------------------------------------------------------------------------------------------ report


def _dump(path: str, seconds: float) -> None:
    names = {i: n for n, i in _names.items()}
    t = _trace
    runs = [(t[i], t[i + 1], names[t[i + 2]], t[i + 3]) for i in range(0, len(t), 4)]
    with open(path + ".trace", "wb") as out:
        pickle.dump(runs, out)
    stats: dict[str, list[int]] = collections.defaultdict(lambda: [0, 0, 0, 0, 0, 0])
    for t0, t1, name, _cpu in runs:
        if name == "select":
            continue
        dt = t1 - t0
        s = stats[name]
        s[0] += 1
        s[1] += dt
        s[2] += dt > 100_000
        s[3] += dt > 200_000
        s[4] += dt > 500_000
        s[5] = max(s[5], dt)
    with open(path, "w") as out:
        out.write(f"{seconds:.1f} s recorded; switch interval {sys.getswitchinterval()} s\n")
        out.write(f"threads: {[th.name for th in threading.enumerate()]}\n\n")
        head = ("count", "total ms", "mean us", ">100us", ">200us", ">500us", "max us")
        out.write(" ".join(f"{h:>9}" for h in head) + "  run\n")
        for name, (n, total, a, b, c, longest) in sorted(stats.items(), key=lambda kv: -kv[1][1]):
            cells = (n, total / 1e6, total / n / 1e3, a, b, c, longest / 1e3)
            out.write(
                " ".join(f"{x:9.0f}" if isinstance(x, float) else f"{x:9d}" for x in cells) + f"  {name}\n"
            )


_gc_start = _gc_cpu = 0


def _gc(phase: str, info: dict[str, int]) -> None:
    global _gc_start, _gc_cpu
    if phase == "start":
        _gc_start = time.perf_counter_ns()
        _gc_cpu = time.thread_time_ns()
    elif _on:
        cpu = time.thread_time_ns() - _gc_cpu
        _record(_gc_start, time.perf_counter_ns(), f"gc generation {info['generation']}", cpu)


gc.callbacks.append(_gc)


def _toggle(signum: int, frame: FrameType | None) -> None:
    global _on, _started
    if not _on:
        del _trace[:]
        _started = time.perf_counter_ns()
        _on = True
        return
    _on = False
    _dump(os.environ["BENCH_LOOP_PROBE"], (time.perf_counter_ns() - _started) / 1e9)


signal.signal(signal.SIGUSR1, _toggle)
if os.environ.get("BENCH_LOOP_PROBE_FROM_START"):
    _toggle(signal.SIGUSR1, None)  # recording from the start: the first signal writes the report

if __name__ == "__main__":
    new_loop = _uvloop
    if sys.argv[1:2] == ["--asyncio"]:
        del sys.argv[1]
        new_loop = _asyncio
    _patch_tether()
    if sys.argv[1:2] == ["--broker"]:
        del sys.argv[1]
        import runpy

        sys.modules["uvloop"] = None  # type: ignore[assignment]  # the broker's __main__ falls back to the policy's

        class _Policy(asyncio.DefaultEventLoopPolicy):
            def new_event_loop(self) -> asyncio.AbstractEventLoop:
                return new_loop()

        asyncio.set_event_loop_policy(_Policy())
        runpy.run_module("tether.broker", run_name="__main__")
    else:
        import tether.cli

        tether.cli._loop_factory = lambda: new_loop
        sys.exit(tether.cli.main())
