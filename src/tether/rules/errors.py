"""The rule language's errors: a rule that does not parse says where (line and column, 1-based), so the
management API can answer 400 with the position; a rule failing on one input raises `RuleRuntimeError`."""

from __future__ import annotations

__all__ = ["RuleError", "RuleRuntimeError", "RuleSyntaxError"]


class RuleError(Exception):
    """Every error of the rule language."""


class RuleSyntaxError(RuleError):
    """The rule's text is not valid rule SQL (or names an unknown function, or calls one with the wrong
    number of arguments)."""

    def __init__(self, message: str, line: int, column: int) -> None:
        super().__init__(f"{message} at line {line}, column {column}")
        self.message = message
        self.line = line
        self.column = column


class RuleRuntimeError(RuleError):
    """Evaluating a rule on one input failed (a function given the wrong type, a division by zero, ...): the
    rule counts as failed for that input (EMQX's `failed.exception`)."""
