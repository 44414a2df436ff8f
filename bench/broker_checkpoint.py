"""What one broker checkpoint costs when a persistent session has a long queue.

One offline persistent session subscribed at QoS 1; messages are published to it one at a time and each
publish waits for its checkpoint (``Persistence.commit_soon``), as a QoS 1 PUBLISH for an offline session is
acknowledged. Prints the time per publish+commit while the queue grows from 0 to ``--messages``, in
buckets, so a cost that grows with the queue shows; then the same with a rewrite of the whole session per
checkpoint (what saving whole session records would cost), and the broker's own part (no I/O).

    .venv/bin/python bench/broker_checkpoint.py                       # SQLite in a temporary directory
    .venv/bin/python bench/broker_checkpoint.py --database-url postgresql://USER:PW@127.0.0.1/DB
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path

from tether.bootstrap import open_storage
from tether.broker import Broker, BrokerConfig, Message
from tether.broker.storage import BrokerStore, MemoryBrokerStore
from tether.broker.subscriptions import Subscription


async def run(store: BrokerStore, messages: int, whole: bool) -> list[float]:
    config = BrokerConfig(max_queued_messages=messages + 10, persist_interval=3600)
    broker = Broker(config, store=store)
    persistence = broker.persistence
    assert persistence is not None
    await broker.start()
    client_id = f"bench-{time.time_ns()}"
    session, _ = broker.sessions.open(client_id, False, config.max_queued_messages)
    session.expiry_interval = 3600
    broker.subscribe(session, Subscription(client_id, "bench/q", 1))
    broker.sessions.detached(session)
    persistence.session_changed(session)
    await persistence.commit_soon()
    payload = b"x" * 64
    times = []
    for i in range(messages):
        start = time.perf_counter()
        broker.route(Message("bench/q", payload, 1, False, sender="pub"))
        if whole:
            persistence._saved.clear()  # forget what the store holds: the session is stored anew
        await persistence.commit_soon()
        times.append(time.perf_counter() - start)
        assert len(session.outbox.queue) == i + 1
    broker.sessions.end(session)
    await broker.stop()
    return times


async def in_memory(messages: int) -> float:
    """Publish + checkpoint without I/O (MemoryBrokerStore) near the end of the queue: the broker's part."""
    times = await run(MemoryBrokerStore(), messages, whole=False)
    return statistics.median(times[-100:])


def report(name: str, times: list[float], buckets: int = 5) -> None:
    size = max(1, len(times) // buckets)
    parts = []
    for k in range(0, len(times), size):
        chunk = times[k : k + size]
        parts.append(f"queue {k:>4}-{k + len(chunk):<4} p50 {statistics.median(chunk) * 1e3:6.2f} ms")
    print(f"{name}: total {sum(times):.2f} s for {len(times)} publishes")
    for part in parts:
        print("   ", part)


async def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--database-url", help="default: SQLite in a temporary directory")
    parser.add_argument("--messages", type=int, default=1000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = args.database_url or f"sqlite:///{Path(tmp) / 'tether.db'}"
        storage = open_storage(url)
        await storage.open()
        try:
            print(f"database: {url.split('://')[0]}; one offline session, {args.messages} QoS 1 publishes,")
            print("each waiting for its checkpoint (route + commit_soon)")
            report("incremental (SqlBrokerStore)", await run(storage.broker_state, args.messages, False))
            report("whole-session rewrite", await run(storage.broker_state, args.messages, True))
        finally:
            await storage.close()
    cost = await in_memory(args.messages)
    print(f"publish + checkpoint with an in-memory store at ~{args.messages} queued: p50 {cost * 1e6:.0f} us")


if __name__ == "__main__":
    asyncio.run(main())
