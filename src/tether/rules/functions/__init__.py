"""The function catalogue of rule SQL (EMQX 5's built-in functions: math, bits, type checks and
conversions, strings, maps, arrays, hashes, codecs, time, UUIDs and `jq`), a module per kind.

Each function is plain Python on rule values (:mod:`tether.rules.values`); its arity is checked when the
rule is parsed. Indexes are 1-based as in EMQX (`nth(1, arr)`), except `substr`, which counts from 0 as
EMQX's does.
Importing this package registers them all in FUNCTIONS.
"""

from __future__ import annotations

from . import collections, conversions, dates, encodings, misc, numbers, strings  # noqa: F401 (registration)
from .registry import FUNCTIONS, MAX_SIZE, Function

__all__ = ["FUNCTIONS", "MAX_SIZE", "Function"]
