"""`${var}` templates of rule actions."""

from __future__ import annotations

import pytest

from tether.rules import RuleSyntaxError
from tether.rules.templates import Template


def test_render_and_value() -> None:
    data = {"clientid": "c1", "t": 31.5, "n": 2, "ok": True, "m": {"a": {"b": 1}}, "raw": b"\xff"}
    assert Template.parse("alerts/${clientid}/${n}").render(data) == "alerts/c1/2"
    assert Template.parse("${t} ${ok} ${missing}").render(data) == "31.5 true undefined"
    assert Template.parse("${m.a.b}").render(data) == "1"
    assert Template.parse("${m}").render(data) == '{"a":{"b":1}}'
    assert Template.parse("${ n }").render(data) == "2"
    # One placeholder alone gives the value itself.
    assert Template.parse("${n}").value(data) == 2
    assert Template.parse("${raw}").value(data) == b"\xff"
    assert Template.parse("plain").is_constant and Template.parse("plain").render({}) == "plain"
    assert Template.parse("").parts == ()


@pytest.mark.parametrize(("text", "column"), [("a/${", 3), ("${}", 1), ("x\n${a..b}", 1)])
def test_invalid_placeholders(text: str, column: int) -> None:
    with pytest.raises(RuleSyntaxError) as caught:
        Template.parse(text)
    assert caught.value.column == column
