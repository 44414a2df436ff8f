"""`tether serve` under cProfile, switched on and off by SIGUSR1 (for benchmarks that want to know where the
server's time goes over one phase: `bench/fleets_jobs.py --cprofile FILE`). Each switch-off writes the
profile to $BENCH_PROFILE (pstats format). py-spy does the same without touching the server, where the
machine lets it attach."""

from __future__ import annotations

import cProfile
import os
import signal
import sys
from types import FrameType

from tether.cli import main

_profile = cProfile.Profile()
_on = False


def _toggle(signum: int, frame: FrameType | None) -> None:
    global _on
    if _on:
        _profile.disable()
        _profile.dump_stats(os.environ["BENCH_PROFILE"])
    else:
        _profile.enable()
    _on = not _on


signal.signal(signal.SIGUSR1, _toggle)

if __name__ == "__main__":
    sys.exit(main())
