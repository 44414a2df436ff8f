"""MQTT sessions across nodes (docs/cluster.md, "Sessions across nodes").

Every persistent session row in the database names the node that holds it; a node restores only its own at
start, and a save by a node that no longer holds a session changes nothing (the store's fencing). Three
movements keep one holder per client id:

- **Takeover** ([MQTT-3.1.4-3] across nodes). A client connecting here whose session is not here: before
  the broker opens it, this node asks every live node on ``tether.session.claim`` who holds it. The holder
  takes its connection over (DISCONNECT 0x8E), saves the session one last time and gives it to this node in
  the same transaction; this node loads it and the CONNECT goes on (Session Present 1 unless Clean Start).
  Nobody holding it in memory, the database still may: a session of a node that is gone (or of no node) is
  claimed from it directly.
- **Adoption.** A node that leaves (cleanly, after saving everything, or by falling silent) leaves its
  sessions in the database; every live node tries to adopt them in one UPDATE, one gets each, and installs
  them offline with their subscriptions, queues, expiry and delayed wills running. At start a node also
  adopts the sessions of nodes that are no longer alive (a whole cluster restarted under new names).
- **Fencing.** A node whose save finds a session held by another node now drops its own copy.

A delayed will travels with its session and is stopped where the session leaves, so it fires once, on the
node holding the session when its delay passes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any, Protocol

import orjson

from tether.broker import Broker
from tether.broker.persistence import Persistence, Restored
from tether.broker.sessions import Session
from tether.broker.settings import NEVER_EXPIRES
from tether.broker.storage import SessionChange
from tether.broker.will import PendingWill
from tether.core.locks import KeyedLocks

from .bus import Msg
from .membership import NodeInfo
from .node import ClusterNode

__all__ = ["ClusterSessions", "SessionDirectory", "SessionUnavailable", "install"]

log = logging.getLogger("tether.cluster")

CLAIM = "tether.session.claim"
ANSWER = "tether.session.answer"  # .<node>.<round>: the answers to one node's question

#: Seconds one question waits for the live nodes' answers (a node that does not answer is dead or
#: overloaded: the database tells the rest).
ASK_WAIT = 1.0


class SessionUnavailable(Exception):
    """The session of a connecting client is held by a node that does not give it up (the CONNECT is
    refused with 0x88 Server unavailable; the client tries again)."""


class SessionDirectory(Protocol):
    """Which node holds each stored session (tether.storage.sql.broker_state.SqlBrokerStore)."""

    node: str | None
    on_lost: Callable[[list[str]], None] | None

    async def holder(self, client_id: str) -> str | None: ...

    async def claim(self, client_id: str, holder: str) -> bool: ...

    async def hand_over(self, client_id: str, change: SessionChange | None, node: str) -> bool: ...

    async def adopt(self, nodes: Sequence[str], orphans: bool = False) -> list[str]: ...

    async def nodes(self) -> list[str]: ...


@dataclass
class _Round:
    """The answers to one question, while it waits for them."""

    waiting: set[str]
    answers: list[dict[str, Any]] = field(default_factory=list)
    event: asyncio.Event = field(default_factory=asyncio.Event)


class ClusterSessions:
    def __init__(self, node: ClusterNode, broker: Broker, directory: SessionDirectory) -> None:
        if broker.persistence is None:
            raise RuntimeError("sessions across nodes need the broker's persistence")
        self.node = node
        self.broker = broker
        self.persistence: Persistence = broker.persistence
        self.directory = directory
        self.me = node.name
        self.loop = broker.loop
        self._locks: KeyedLocks[str] = KeyedLocks()
        self._rounds: dict[int, _Round] = {}
        self._seq = 0
        self._tasks: set[asyncio.Task[None]] = set()
        self._giving: set[asyncio.Task[None]] = set()  # hand-overs under way: finished, not cancelled
        self._unsubscribe: list[Callable[[], Awaitable[None]]] = []
        self._started: asyncio.Task[None] | None = None

    def install(self) -> Callable[[], Awaitable[None]]:
        """Wire into the broker before it restores its sessions (only this node's are then loaded)."""
        self.directory.node = self.me
        self.directory.on_lost = self._lost
        self.broker.claim_session = self.claim
        self.node.membership.on_down.append(self._down)
        self._started = self.loop.create_task(self._start())
        return self.close

    async def _start(self) -> None:
        bus = self.node.bus
        self._unsubscribe = [
            await bus.subscribe(CLAIM, self._on_claim),
            await bus.subscribe(f"{ANSWER}.{self.me}.*", self._on_answer),
        ]
        self._spawn(self._adopt_orphans())

    async def close(self) -> None:
        """Stop answering and claiming (the broker then stops and saves every session it holds)."""
        self.broker.claim_session = None
        self.directory.on_lost = None
        with contextlib.suppress(ValueError):
            self.node.membership.on_down.remove(self._down)
        if self._started is not None and not self._started.done():
            self._started.cancel()
        if self._giving:
            await asyncio.wait(self._giving, timeout=10)
        for task in list(self._tasks - self._giving):
            task.cancel()
        for unsubscribe in self._unsubscribe:
            with contextlib.suppress(Exception):  # the connection may be closing
                await unsubscribe()

    def _spawn(self, work: Awaitable[None]) -> asyncio.Task[None]:
        async def run() -> None:
            try:
                await work
            except Exception:
                log.exception("cluster: MQTT session work failed")

        task = self.loop.create_task(run())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    # ------------------------------------------------------------------------------ claiming (the new node)

    def claim(self, key: str, clean_start: bool) -> Awaitable[None] | None:
        """The broker's ``claim_session``: nothing to wait for when the session is here; otherwise a future
        resolved once it is here or nowhere (shielded: a client that goes away meanwhile does not stop a
        session on its way, which is installed offline)."""
        if self.broker.sessions.get(key) is not None:
            return None
        task = self.loop.create_task(self._claim(key))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return asyncio.shield(task)

    async def _claim(self, key: str) -> None:
        membership = self.node.membership
        # Long enough for a node that died to be declared gone (membership) and its session taken.
        deadline = self.loop.time() + membership.timeout + 5 * ASK_WAIT
        async with self._locks.hold(key):
            if self._started is not None:
                await asyncio.shield(self._started)
            while self.broker.sessions.get(key) is None:
                # The question and the database read at once: a new client id costs the longer of the two.
                answers, holder = await asyncio.gather(self._ask(key), self.directory.holder(key))
                if any(a.get("given") for a in answers):
                    await self._load([key])
                    return
                if any(a.get("ended") for a in answers):
                    return  # it ended with its connection there (Session Expiry Interval 0)
                if holder is None:
                    return  # nobody has it: a new session
                if holder == self.me:
                    await self._load([key])
                    return
                if (holder == "" or not membership.alive(holder)) and await self.directory.claim(key, holder):
                    await self._load([key], ended_at=time.time())  # its node died (or it has none)
                    return
                # A live node holds it but did not give it (adopting it right now, or handing it to
                # another node): ask again.
                if self.loop.time() > deadline:
                    raise SessionUnavailable(f"node {holder} holds MQTT session {key} and does not answer")
                await asyncio.sleep(0.1)

    async def _ask(self, key: str) -> list[dict[str, Any]]:
        """Ask every live node to give the session of `key`; their answers, once each has answered or is
        gone, or ASK_WAIT passed (a holder answers after it has given the session)."""
        membership = self.node.membership
        peers = {node.name for node in membership.nodes} - {self.me}
        if not peers:
            return []
        self._seq += 1
        seq = self._seq
        round_ = self._rounds[seq] = _Round(peers)
        try:
            request = orjson.dumps({"key": key, "node": self.me})
            await self.node.bus.client.publish(CLAIM, request, reply=f"{ANSWER}.{self.me}.{seq}")
            end = self.loop.time() + ASK_WAIT
            while any(membership.alive(name) for name in round_.waiting):
                left = end - self.loop.time()
                if left <= 0 or any(a.get("given") or a.get("ended") for a in round_.answers):
                    break
                round_.event.clear()
                with contextlib.suppress(TimeoutError):
                    # Woken by an answer; a node declared gone meanwhile is noticed at the next turn.
                    await asyncio.wait_for(round_.event.wait(), min(left, 0.25))
        finally:
            del self._rounds[seq]
        return round_.answers

    async def _on_answer(self, msg: Msg) -> None:
        doc = orjson.loads(msg.data)
        round_ = self._rounds.get(int(msg.subject.rpartition(".")[2]))
        if round_ is None:
            if doc.get("given") and self.broker.sessions.get(doc["key"]) is None:
                # Given after the question stopped waiting: it is ours in the database, so here too.
                self._spawn(self._load([doc["key"]]))
            return
        round_.waiting.discard(doc["node"])
        round_.answers.append(doc)
        round_.event.set()

    async def _load(self, keys: list[str], ended_at: float | None = None) -> None:
        """Install the stored sessions of `keys` (this node's in the database now), offline; `ended_at`: when
        the node holding them died (their clients, if connected there, went away then)."""
        restored = await self.persistence.restore(
            self.broker.config.max_queued_messages, self.broker.publish_will, keys, ended_at
        )
        self.broker.install(restored)

    # ------------------------------------------------------------------------------ giving (the old node)

    async def _on_claim(self, msg: Msg) -> None:
        doc = orjson.loads(msg.data)
        key, node = str(doc["key"]), str(doc["node"])
        if node == self.me:
            return
        if self.broker.sessions.get(key) is None:
            await msg.respond(orjson.dumps({"node": self.me, "key": key}))
            return
        # Not in this handler: the other questions are answered meanwhile.
        task = self._spawn(self._give(key, node, msg))
        self._giving.add(task)
        task.add_done_callback(self._giving.discard)

    async def _give(self, key: str, node: str, msg: Msg) -> None:
        answer: dict[str, Any] = {"node": self.me, "key": key}
        async with self._locks.hold(key), self.persistence.paused():
            if self.broker.sessions.get(key) is not None:
                session = self.broker.release_session(key)
                if session is None:
                    answer["ended"] = True
                else:
                    answer["given"] = await self._hand_over(session, node)
        await msg.respond(orjson.dumps(answer))

    async def _hand_over(self, session: Session, node: str) -> bool:
        key = session.client_id
        try:
            give = partial(self.directory.hand_over, key, node=node)
            given = await self.persistence.hand_over(session, give)
        except Exception:
            log.exception("cluster: MQTT session %s could not be given to %s; kept", key, node)
            self._reinstate(session)
            return False
        if given:
            log.info("cluster: MQTT session %s given to %s", key, node)
        else:
            log.warning("cluster: MQTT session %s is held by another node: dropped here", key)
        return given

    def _reinstate(self, session: Session) -> None:
        """Put back a session whose hand-over failed: offline, its expiry and delayed will running."""
        remaining = None
        if session.expiry_interval != NEVER_EXPIRES:
            remaining = max(0.0, session.disconnected_at + session.expiry_interval - time.time())
        will = session.pending_will
        if will is not None and will.pending:
            delay = max(0.0, will.due - self.loop.time())
            publish = self.persistence.will_publisher(session, self.broker.publish_will)
            session.pending_will = PendingWill(self.loop, will.message, delay, publish)
        self.broker.install(Restored([], [(session, remaining)], []))
        self.persistence.session_changed(session)

    def _lost(self, keys: list[str]) -> None:
        """A save found these sessions held by another node now: drop this node's copies (their clients,
        if connected here, are taken over and reconnect to resume the session where it is)."""
        for key in keys:
            if key in self._locks:
                continue  # moving right now
            session = self.broker.release_session(key)
            if session is not None:
                if session.pending_will is not None:
                    session.pending_will.cancel()
                self.persistence.forget(key)

    # ------------------------------------------------------------------------------ adopting

    def _down(self, node: NodeInfo, clean: bool) -> None:
        self._spawn(self._adopt([node.name]))

    async def _adopt_orphans(self) -> None:
        """Once this node knows its peers: the sessions of nodes no longer alive, and of no node."""
        await asyncio.sleep(self.node.membership.timeout)
        await self._adopt(await self.directory.nodes(), orphans=True)

    async def _adopt(self, nodes: Sequence[str], orphans: bool = False) -> None:
        membership = self.node.membership
        # A node back under the same name (restarted) restores its own sessions.
        gone = [name for name in nodes if name and not membership.alive(name)]
        if not gone and not orphans:
            return
        keys = await self.directory.adopt(gone, orphans)
        if keys:
            await self._load(keys, ended_at=time.time())
            log.info("cluster: adopted %d MQTT sessions of %s", len(keys), ", ".join(gone) or "no node")


def install(node: ClusterNode, broker: Broker, directory: SessionDirectory) -> Callable[[], Awaitable[None]]:
    """Sessions across nodes on this node's broker (before it starts); returns what detaches it."""
    return ClusterSessions(node, broker, directory).install()
