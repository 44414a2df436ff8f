"""CPU of one crossing QoS 0 message in cluster routing, in process (no NATS, no sockets): the sending node's
Router.route (plan, local routing with the broker's taps and match, frame into the per-node batch, one batch
per event-loop turn) and the receiving node's decoding and delivery of the batch (Router._copies without the
NATS answer) to one subscriber whose connection buffers what it is given.

    .venv/bin/python bench/cluster_route_cost.py [--messages 200000] [--batch 1000]

Prints microseconds per message, best of 5 runs of each side. Benchmarks measure; they do not assert."""

from __future__ import annotations

import argparse
import asyncio
import time
from typing import Any

from tether.broker import Broker, Message
from tether.broker.subscriptions import Subscription
from tether.cluster import routing


class _Bus:
    def __init__(self) -> None:
        self.posted: list[tuple[str, bytes]] = []

    def post(self, subject: str, data: bytes) -> None:
        self.posted.append((subject, data))


class _Node:
    def __init__(self, name: str) -> None:
        self.name = name
        self.bus = _Bus()


class _Owner:
    """A connection that takes every copy (what the socket would be given, counted)."""

    def __init__(self) -> None:
        self.count = 0

    def deliver(self, delivery: Any) -> None:
        self.count += 1

    def deliver_plain(self, topic: str, payloads: list[bytes]) -> int:
        self.count += len(payloads)
        return len(payloads)

    def take_over(self) -> None:
        pass


async def main(messages: int, batch: int) -> None:
    topic = "$tenant/t1/bench/x"
    payload = b"p" * 64
    sender = Broker()
    router = routing.Router(_Node("n1"), sender)  # type: ignore[arg-type]
    router._set_interest("n2", topic, True)
    receiver = Broker()
    sub = Subscription("s", topic, 0)
    receiver.subscriptions.add(sub)
    session, _ = receiver.sessions.open("s", True, 0)
    owner = _Owner()
    session.owner = owner  # type: ignore[assignment]
    into = routing.Router(_Node("n2"), receiver)  # type: ignore[arg-type]
    sends, receives = [], []
    for _ in range(5):
        bus = router.bus
        bus.posted.clear()  # type: ignore[attr-defined]
        msgs = [Message(topic, payload, 0, False, sender=f"p{i % 4}") for i in range(messages)]
        start = time.process_time()
        for i in range(0, messages, batch):
            for message in msgs[i : i + batch]:
                router.route(message)
            router._flush()
            for batch_id in list(router._awaiting):  # answered at once (the receiver's ack)
                router._settle(batch_id, None)
        sends.append((time.process_time() - start) * 1e6 / messages)
        posted = [data for subject, data in bus.posted if subject.startswith(routing.ROUTE)]  # type: ignore[attr-defined]
        start = time.process_time()
        for data in posted:
            await into._copies(_Msg(data))  # type: ignore[arg-type]
        receives.append((time.process_time() - start) * 1e6 / messages)
    runs = ", ".join(f"{s:.2f}" for s in sends)
    print(f"sending node: Router.route + flush {min(sends):.2f} us/message (runs {runs})")
    runs = ", ".join(f"{r:.2f}" for r in receives)
    print(f"receiving node: _copies {min(receives):.2f} us/message (runs {runs}); delivered {owner.count:,}")


class _Msg:
    def __init__(self, data: bytes) -> None:
        self.data = data


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--messages", type=int, default=200_000)
    parser.add_argument("--batch", type=int, default=1000, help="messages per event-loop turn")
    args = parser.parse_args()
    asyncio.run(main(args.messages, args.batch))
