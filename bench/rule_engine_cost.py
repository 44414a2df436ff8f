"""The rule engine's own cost per message, in-process and without the network: the rule of bench/rules.py
(`SELECT * FROM "bench/#" WHERE payload.temp > 30`, republished to `alerts/${clientid}` with `${payload}`)
applied to a 64-byte JSON message of a publisher, as the engine's worker does (columns, the compiled rule,
the republish plan, routing the copy through a broker with no subscriber to it); `tap+engine` adds the
engine's tap on the broker's path (the message put in the engine's queue), i.e. all a message costs;
`tap+worker` the same through the engine's worker (the loop that takes the queue's messages: a whole
queue of them tapped, then the worker left to empty it: a deeper queue than a server's, so colder caches).

    .venv/bin/python bench/rule_engine_cost.py              # 100,000 messages, best of 5, CPU time
    .venv/bin/python bench/rule_engine_cost.py --messages 500000

The collector tuned as `tether serve` tunes it. CPU time of this process (time.process_time), so that
other work on a shared machine weighs less than in wall-clock figures. Benchmarks measure; they do not
assert.
"""

from __future__ import annotations

import argparse
import asyncio
import platform
import time

from tether.adapters.rules import RuleEngine
from tether.broker import Broker
from tether.broker.message import Message
from tether.core.events import EventBus
from tether.rules.models import Rule, RuleDraft, parse_actions
from tether.rules.service import RuleService
from tether.server import _tune_gc
from tether.tenants.models import Principal, Role

SQL = 'SELECT * FROM "bench/#" WHERE payload.temp > 30'
ACTIONS = [{"function": "republish", "args": {"topic": "alerts/${clientid}", "payload": "${payload}"}}]


class MemoryRules:
    """The RuleStore protocol in memory (nothing to persist here)."""

    async def all(self) -> list[Rule]:
        return []

    async def create(self, rule: Rule) -> None:
        pass

    async def update(self, rule: Rule) -> bool:
        return True

    async def delete(self, tenant_id: str, rule_id: str) -> bool:
        return True


async def run(messages: int) -> None:
    rules = RuleService(MemoryRules())
    engine = RuleEngine(rules, EventBus(), node="bench")
    stop = engine.install(Broker())
    admin = Principal("t1", "admin", frozenset({Role.ADMIN}))
    draft = RuleDraft(id="bench", name="", sql=SQL, actions=parse_actions(ACTIONS), enable=True,
                      description="", metadata={})  # fmt: skip
    await rules.create(admin, draft)
    _tune_gc()  # as `tether serve` does
    head = b'{"temp": 35, "pad": "'
    payload = head + b"x" * (64 - len(head) - 2) + b'"}'
    message = Message("$tenant/t1/bench/rules", payload, sender="$tenant/t1/pub-0")
    item = (0, "t1", message, None, 1)
    handle, tap, queue = engine._handle, engine._tap, engine._queue
    runs, tapped, worked = [], [], []
    engine.max_queue = messages + 1
    for _ in range(5):
        start = time.process_time()
        for _ in range(messages):
            handle(item)
        runs.append((time.process_time() - start) / messages * 1e6)
        start = time.process_time()
        for _ in range(messages):  # the tap on the broker's path too: what a routed message costs in all
            tap(message)
            handle(queue.popleft())
        tapped.append((time.process_time() - start) / messages * 1e6)
        start = time.process_time()
        for _ in range(messages):
            tap(message)
        while queue:  # noqa: ASYNC110 (the worker's turns, of up to 0.1 s, until the queue is empty)
            await asyncio.sleep(0)
        worked.append((time.process_time() - start) / messages * 1e6)
    metrics = rules.enabled("t1")[0].metrics
    assert metrics.actions_success == 15 * messages, metrics
    print(f"{platform.machine()}, Python {platform.python_version()}")
    print(f"engine    {min(runs):.2f} us CPU per message, best of 5 x {messages:,} (runs: "
          f"{', '.join(f'{r:.2f}' for r in runs)})")  # fmt: skip
    print(f"tap+engine {min(tapped):.2f} us CPU per message, best of 5 x {messages:,} (runs: "
          f"{', '.join(f'{r:.2f}' for r in tapped)})")  # fmt: skip
    print(f"tap+worker {min(worked):.2f} us CPU per message, best of 5 x {messages:,} (runs: "
          f"{', '.join(f'{r:.2f}' for r in worked)})")  # fmt: skip
    result = stop()
    if result is not None:
        await result


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--messages", type=int, default=100_000)
    asyncio.run(run(parser.parse_args().messages))


if __name__ == "__main__":
    main()
