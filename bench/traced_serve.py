"""`tether serve` with tracemalloc switched by SIGUSR1: the first signal starts tracing, the second writes
what is still allocated since then, grouped by line, to $BENCH_TRACEMALLOC (`bench/mqtt_broker.py
--tracemalloc FILE` signals around its idle connections: what each connection holds, by who allocated it).
Tracing slows the server: use it for the breakdown, not for figures."""

from __future__ import annotations

import gc
import os
import signal
import sys
import tracemalloc
from types import FrameType

from tether.cli import main


def _toggle(signum: int, frame: FrameType | None) -> None:
    if not tracemalloc.is_tracing():
        tracemalloc.start(8)
        return
    gc.collect()
    snapshot = tracemalloc.take_snapshot()
    tracemalloc.stop()
    with open(os.environ["BENCH_TRACEMALLOC"], "w") as out:
        stats = snapshot.statistics("lineno")
        out.write(
            f"total {sum(s.size for s in stats) / 1e6:.1f} MB in {sum(s.count for s in stats)} blocks\n"
        )
        for stat in stats[:60]:
            out.write(f"{stat.size / 1e3:10.0f} kB {stat.count:8d}  {stat.traceback[0]}\n")
        out.write("\nby traceback (top 25)\n")
        for stat in snapshot.statistics("traceback")[:25]:
            out.write(f"{stat.size / 1e3:10.0f} kB {stat.count:8d}\n")
            for frame_ in stat.traceback.format()[-12:]:
                out.write(f"    {frame_}\n")


signal.signal(signal.SIGUSR1, _toggle)

if __name__ == "__main__":
    sys.exit(main())
