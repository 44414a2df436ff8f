"""Rule SQL (EMQX 5's rule language), free of I/O: the parser (:mod:`.parser`), the function catalogue
(:mod:`.functions`), the compiler to Python (:mod:`.compiler`) and `${var}` templates (:mod:`.templates`).
The engine that feeds rules messages and events and runs their actions lives with the broker adapters."""

from .compiler import CompiledRule, compile_rule
from .errors import RuleError, RuleRuntimeError, RuleSyntaxError
from .parser import parse

__all__ = ["CompiledRule", "RuleError", "RuleRuntimeError", "RuleSyntaxError", "compile_rule", "parse"]
