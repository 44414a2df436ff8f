"""A rule's counters, in EMQX 5's names (GET /rules/{id}/metrics): how many inputs matched its FROM, passed
(gave outputs), failed (failed.exception: evaluation raised; failed.no_result: WHERE false or nothing left
of a FOREACH; failed.dropped, Tether's: the engine's queue was full in a flood, the input was not evaluated),
and what its actions did. In memory: they start from 0 with the process, as EMQX's do."""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

__all__ = ["RuleMetrics"]


@dataclass(slots=True)
class RuleMetrics:
    matched: int = 0
    passed: int = 0
    failed_exception: int = 0
    failed_no_result: int = 0
    #: Inputs its FROM took that the engine's full queue dropped (Tether's; counted in matched and failed).
    failed_dropped: int = 0
    actions_success: int = 0
    actions_failed: int = 0
    #: Of actions_failed: the sink was missing, disabled or its buffer full (EMQX's out_of_service).
    actions_failed_out_of_service: int = 0

    def reset(self) -> None:
        for f in fields(self):
            setattr(self, f.name, 0)

    def render(self) -> dict[str, Any]:
        return {
            "matched": self.matched,
            "passed": self.passed,
            "failed": self.failed_exception + self.failed_no_result + self.failed_dropped,
            "failed.exception": self.failed_exception,
            "failed.no_result": self.failed_no_result,
            "failed.dropped": self.failed_dropped,
            "actions.total": self.actions_success + self.actions_failed,
            "actions.success": self.actions_success,
            "actions.failed": self.actions_failed,
            "actions.failed.out_of_service": self.actions_failed_out_of_service,
            "actions.failed.unknown": self.actions_failed - self.actions_failed_out_of_service,
            "actions.discarded": 0,
        }
