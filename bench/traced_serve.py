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
        for stat in stats[:120]:
            out.write(f"{stat.size / 1e3:10.0f} kB {stat.count:8d}  {stat.traceback[0]}\n")
        # Blocks over 512 bytes come from the C library's malloc, not from Python's small-object allocator.
        big = [t for t in snapshot.traces if t.size > 512]
        big_mb = sum(t.size for t in big) / 1e6
        out.write(f"\nblocks over 512 bytes (glibc malloc): {big_mb:.1f} MB in {len(big)}\n")
        by_line: dict[str, list[int]] = {}
        for t in big:
            entry = by_line.setdefault(str(t.traceback[-1]), [0, 0])  # the most recent frame
            entry[0] += t.size
            entry[1] += 1
        for line, (size, count) in sorted(by_line.items(), key=lambda kv: -kv[1][0])[:15]:
            out.write(f"{size / 1e3:10.0f} kB {count:8d}  {line}\n")
        out.write("\nby file\n")
        for stat in snapshot.statistics("filename")[:40]:
            out.write(f"{stat.size / 1e3:10.0f} kB {stat.count:8d}  {stat.traceback[0].filename}\n")
        out.write("\nby traceback (top 25)\n")
        for stat in snapshot.statistics("traceback")[:25]:
            out.write(f"{stat.size / 1e3:10.0f} kB {stat.count:8d}\n")
            for frame_ in stat.traceback.format()[-12:]:
                out.write(f"    {frame_}\n")


signal.signal(signal.SIGUSR1, _toggle)

if __name__ == "__main__":
    sys.exit(main())
