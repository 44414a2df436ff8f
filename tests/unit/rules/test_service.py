"""RuleService over the in-memory store: checks, tenant scoping, the engine's view, dry runs."""

from __future__ import annotations

import pytest
from tests.fakes.rules import FakeRuleStore

from tether.core.errors import BadRequest, Conflict, Forbidden, NotFound
from tether.rules.models import Console, RuleDraft, parse_actions
from tether.rules.service import RuleService
from tether.tenants.models import Principal, Role

ADMIN = Principal("t1", "admin", frozenset({Role.ADMIN}))
OTHER = Principal("t2", "admin", frozenset({Role.ADMIN}))
DEVICE = Principal("t1", "device_1", frozenset({Role.DEVICE}))


def draft(sql: str = "SELECT * FROM 't/#'", rule_id: str | None = "r1", **kwargs: object) -> RuleDraft:
    return RuleDraft(rule_id, "name", sql, (Console(),), **kwargs)  # type: ignore[arg-type]


@pytest.mark.anyio
async def test_create_update_delete_and_reload() -> None:
    store = FakeRuleStore()
    service = RuleService(store)
    changed: list[str] = []
    service.listeners.append(changed.append)
    loaded = await service.create(ADMIN, draft())
    assert loaded.rule.id == "r1" and loaded.compiled.sources == ("t/#",)
    assert [r.rule.id for r in service.enabled("t1")] == ["r1"] and service.tenants() == ["t1"]
    with pytest.raises(Conflict):
        await service.create(ADMIN, draft())
    await service.update(ADMIN, "r1", enable=False, sql="SELECT * FROM 'x'")
    assert service.enabled("t1") == [] and service.get(ADMIN, "r1").compiled.sources == ("x",)
    again = RuleService(store)
    await again.load()
    assert again.get(ADMIN, "r1").rule == service.get(ADMIN, "r1").rule
    await service.delete(ADMIN, "r1")
    with pytest.raises(NotFound):
        service.get(ADMIN, "r1")
    assert changed == ["t1", "t1", "t1"]
    generated = await service.create(ADMIN, draft(rule_id=None))
    assert generated.rule.id.startswith("rule_") and len(generated.rule.id) == 21


@pytest.mark.anyio
async def test_tenants_and_roles() -> None:
    service = RuleService(FakeRuleStore())
    await service.create(ADMIN, draft())
    assert service.list(OTHER) == []
    with pytest.raises(NotFound):
        service.get(OTHER, "r1")
    with pytest.raises(NotFound):
        await service.delete(OTHER, "r1")
    await service.create(OTHER, draft())  # the same id in another tenant
    with pytest.raises(Forbidden):
        service.list(DEVICE)
    with pytest.raises(Forbidden):
        await service.create(DEVICE, draft(rule_id="r2"))


@pytest.mark.parametrize(
    ("sql", "words"),
    [
        ("SELECT", "line 1, column 7"),
        ("", "'sql' is required"),
        ("SELECT * FROM 't'\nWHERE", "line 2, column 6"),
    ],
)
@pytest.mark.anyio
async def test_invalid_sql_says_where(sql: str, words: str) -> None:
    with pytest.raises(BadRequest) as caught:
        await RuleService(FakeRuleStore()).create(ADMIN, draft(sql))
    assert words in caught.value.message


def test_dry_run() -> None:
    service = RuleService(FakeRuleStore())
    result = service.test(ADMIN, "SELECT payload.x AS x FROM 't/#'", "t/1", {"payload": '{"x": 1}'})
    assert result.outputs == [{"x": 1}] and not result.foreach
    assert service.test(ADMIN, "SELECT 1 AS x FROM 't/#'", "other", {}).outputs is None
    with pytest.raises(BadRequest):
        service.test(ADMIN, "SELECT 1 / 0 AS x FROM 't/#'", "t/1", {})


def test_actions_are_checked() -> None:
    republish = {"function": "republish", "args": {"topic": "a/${x}", "qos": "${q}"}}
    actions = parse_actions([republish, "console"])
    assert len(actions) == 2
    for bad in ([{"function": "http:x"}], [{"function": "republish", "args": {"topic": 1}}], "x"):
        with pytest.raises(BadRequest):
            parse_actions(bad)
