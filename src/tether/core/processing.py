"""Processing modes: whether a piece of data is stored, announced to listeners, or both.

Cumulocity names them in the `X-Cumulocity-Processing-Mode` header; other protocol families map onto
the same four. The API layer parses the header, services only see the enum.
"""

from __future__ import annotations

from enum import StrEnum


class ProcessingMode(StrEnum):
    PERSISTENT = "PERSISTENT"  # stored and announced (the default)
    TRANSIENT = "TRANSIENT"  # announced only: real-time listeners get it, nothing is stored
    QUIESCENT = "QUIESCENT"  # stored only: no real-time notification
    CEP = "CEP"  # Cumulocity's complex-event-processing mode; here the same as PERSISTENT

    @property
    def stores(self) -> bool:
        return self is not ProcessingMode.TRANSIENT

    @property
    def announces(self) -> bool:
        return self is not ProcessingMode.QUIESCENT
