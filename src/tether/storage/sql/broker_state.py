"""The MQTT broker's durable state in SQL: persistent sessions, their subscriptions and deliveries, and
retained messages (migration 0004). Implements tether.broker.storage.BrokerStore on SQLite and PostgreSQL.

One `save` is one write transaction (on SQLite one group commit, so it returns after the fsync'ed commit) made
of a few multi-row statements, whatever the size of the batch. Deliveries are rows keyed by (client id, seq):
a message queued for a session is one INSERT, an acknowledged one a DELETE, however long the queue.
Payloads and encoded MQTT 5 property blocks are stored as bytes.

In a cluster (``node`` set; PostgreSQL) every session row names the node that holds it (migration 0024):
`load` returns only this node's sessions, `save` leaves alone the rows another node holds now (a session
taken over or adopted while this node still had changes of it), and the methods of
tether.cluster.sessions.SessionDirectory move rows between nodes in single statements, so that exactly one
node gets each session (docs/cluster.md, "Sessions across nodes").
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Double,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    SmallInteger,
    Table,
    Text,
    any_,
    bindparam,
    delete,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncConnection

from tether.broker.storage import (
    DeliveryRecord,
    MessageRecord,
    SessionChange,
    SessionHeader,
    SessionRecord,
    StoredState,
    SubscriptionRecord,
)
from tether.storage.sql.database import Database
from tether.storage.sql.schema import Document, metadata

log = logging.getLogger("tether.broker")

__all__ = ["SqlBrokerStore", "mqtt_deliveries", "mqtt_retained", "mqtt_sessions", "mqtt_subscriptions"]

mqtt_sessions = Table(
    "mqtt_sessions",
    metadata,
    Column("client_id", Text, primary_key=True),  # as the broker keys sessions (mountpoint + client id)
    Column("expiry_interval", BigInteger, nullable=False),  # seconds; 0xFFFFFFFF: never
    Column("disconnected_at", Double, nullable=False),  # wall clock, seconds
    Column("awaiting_rel", Document, nullable=False),  # QoS 2 packet ids received, waiting for PUBREL
    Column("will_topic", Text),  # a will waiting for its delay, or NULL
    Column("will_payload", LargeBinary),
    Column("will_qos", SmallInteger),
    Column("will_retain", Boolean),
    Column("will_properties", LargeBinary),
    Column("will_expires_at", Double),
    Column("will_at", Double),
    Column("online", Boolean),  # saved while its client was connected (migration 0024)
    Column("node", Text),  # the cluster node holding it (migration 0024); NULL without a cluster
    Index("ix_mqtt_sessions_node", "node"),
)

mqtt_subscriptions = Table(
    "mqtt_subscriptions",
    metadata,
    Column("client_id", Text, ForeignKey("mqtt_sessions.client_id", ondelete="CASCADE"), primary_key=True),
    Column("topic_filter", Text, primary_key=True),
    Column("position", Integer, nullable=False),  # order of subscription
    Column("qos", SmallInteger, nullable=False),
    Column("no_local", Boolean, nullable=False),
    Column("retain_as_published", Boolean, nullable=False),
    Column("retain_handling", SmallInteger, nullable=False),
    Column("identifier", Integer),
)

mqtt_deliveries = Table(
    "mqtt_deliveries",
    metadata,
    Column("client_id", Text, ForeignKey("mqtt_sessions.client_id", ondelete="CASCADE"), primary_key=True),
    Column("seq", BigInteger, primary_key=True),
    Column("qos", SmallInteger, nullable=False),
    Column("retain", Boolean, nullable=False),
    Column("subscription_ids", Document, nullable=False),
    Column("packet_id", Integer, nullable=False),
    Column("state", SmallInteger, nullable=False),  # 0 queued, else in flight (tether.broker.inflight)
    Column("topic", Text, nullable=False),
    Column("payload", LargeBinary, nullable=False),
    Column("message_qos", SmallInteger, nullable=False),
    Column("message_retain", Boolean, nullable=False),
    Column("properties", LargeBinary, nullable=False),
    Column("expires_at", Double),
)

mqtt_retained = Table(
    "mqtt_retained",
    metadata,
    Column("topic", Text, primary_key=True),
    Column("payload", LargeBinary, nullable=False),
    Column("qos", SmallInteger, nullable=False),
    Column("retain", Boolean, nullable=False),
    Column("properties", LargeBinary, nullable=False),
    Column("expires_at", Double),
)

_sess, _subs, _dlv, _ret = mqtt_sessions, mqtt_subscriptions, mqtt_deliveries, mqtt_retained

# Statements run with many parameter sets (executemany); bound names differ from the column names.
_DELETE_SESSION = [
    delete(table).where(table.c.client_id == bindparam("b_client_id")) for table in (_dlv, _subs, _sess)
]
_DELETE_SUBSCRIPTIONS = delete(_subs).where(_subs.c.client_id == bindparam("b_client_id"))
_UPDATE_HEADER = (
    update(_sess)
    .where(_sess.c.client_id == bindparam("b_client_id"))
    .values({c.name: bindparam(c.name) for c in _sess.c if c.name not in ("client_id", "node")})
)
_DELETE_DELIVERY = delete(_dlv).where(
    _dlv.c.client_id == bindparam("b_client_id"), _dlv.c.seq == bindparam("b_seq")
)
_UPDATE_DELIVERY = (
    update(_dlv)
    .where(_dlv.c.client_id == bindparam("b_client_id"), _dlv.c.seq == bindparam("b_seq"))
    .values(packet_id=bindparam("packet_id"), state=bindparam("state"))
)
_DELETE_RETAINED = delete(_ret).where(_ret.c.topic == bindparam("b_topic"))


def _header_row(client_id: str, h: SessionHeader) -> dict[str, Any]:
    will = h.will
    return {
        "client_id": client_id,
        "expiry_interval": h.expiry_interval,
        "disconnected_at": h.disconnected_at,
        "awaiting_rel": list(h.awaiting_rel),
        "will_topic": None if will is None else will.topic,
        "will_payload": None if will is None else will.payload,
        "will_qos": None if will is None else will.qos,
        "will_retain": None if will is None else will.retain,
        "will_properties": None if will is None else will.properties,
        "will_expires_at": None if will is None else will.expires_at,
        "will_at": h.will_at,
        "online": h.online,
    }


def _delivery_row(client_id: str, d: DeliveryRecord) -> dict[str, Any]:
    m = d.message
    return {
        "client_id": client_id,
        "seq": d.seq,
        "qos": d.qos,
        "retain": d.retain,
        "subscription_ids": list(d.subscription_ids),
        "packet_id": d.packet_id,
        "state": d.state,
        "topic": m.topic,
        "payload": m.payload,
        "message_qos": m.qos,
        "message_retain": m.retain,
        "properties": m.properties,
        "expires_at": m.expires_at,
    }


def _subscription_rows(client_id: str, subs: Sequence[SubscriptionRecord]) -> list[dict[str, Any]]:
    return [
        {
            "client_id": client_id,
            "topic_filter": s.topic_filter,
            "position": i,
            "qos": s.qos,
            "no_local": s.no_local,
            "retain_as_published": s.retain_as_published,
            "retain_handling": s.retain_handling,
            "identifier": s.identifier,
        }
        for i, s in enumerate(subs)
    ]


def _message(row: Any) -> MessageRecord:
    return MessageRecord(
        row.topic,
        bytes(row.payload),
        row.qos,
        bool(row.retain),
        bytes(row.properties),
        row.expires_at,
    )


class SqlBrokerStore:
    """:class:`tether.broker.storage.BrokerStore` over the platform's database; in a cluster also the
    :class:`tether.cluster.sessions.SessionDirectory` of the node (see the module's docstring)."""

    def __init__(self, db: Database) -> None:
        self._db = db
        #: The cluster node this store saves for; None without a cluster (every row is ours).
        self.node: str | None = None
        #: Told the client ids of sessions a save left alone because another node holds them now.
        self.on_lost: Callable[[list[str]], None] | None = None

    async def load(self, client_ids: Sequence[str] | None = None) -> StoredState:
        mine = [] if self.node is None else [_sess.c.node == self.node]
        if client_ids is not None:
            ids = list(client_ids)
            if not ids:
                return StoredState()
            mine += [_sess.c.client_id.in_(ids)]
        owned = select(_sess.c.client_id).where(*mine) if mine else None
        of_mine = [] if owned is None else [_subs.c.client_id.in_(owned)]
        async with self._db.read() as conn:
            sessions = (await conn.execute(select(_sess).where(*mine).order_by(_sess.c.client_id))).all()
            subs = (
                await conn.execute(
                    select(_subs).where(*of_mine).order_by(_subs.c.client_id, _subs.c.position)
                )
            ).all()
            of_mine = [] if owned is None else [_dlv.c.client_id.in_(owned)]
            deliveries = (
                await conn.execute(select(_dlv).where(*of_mine).order_by(_dlv.c.client_id, _dlv.c.seq))
            ).all()
            retained: Sequence[Any] = ()
            if client_ids is None:
                retained = (await conn.execute(select(_ret).order_by(_ret.c.topic))).all()
        subs_of: defaultdict[str, list[SubscriptionRecord]] = defaultdict(list)
        for r in subs:
            subs_of[r.client_id].append(
                SubscriptionRecord(
                    r.topic_filter,
                    r.qos,
                    bool(r.no_local),
                    bool(r.retain_as_published),
                    r.retain_handling,
                    r.identifier,
                )
            )
        inflight_of: defaultdict[str, list[DeliveryRecord]] = defaultdict(list)
        queued_of: defaultdict[str, list[DeliveryRecord]] = defaultdict(list)
        messages: dict[MessageRecord, MessageRecord] = {}  # one object per distinct message
        for r in deliveries:
            message = MessageRecord(
                r.topic,
                bytes(r.payload),
                r.message_qos,
                bool(r.message_retain),
                bytes(r.properties),
                r.expires_at,
            )
            message = messages.setdefault(message, message)
            record = DeliveryRecord(
                message,
                r.qos,
                bool(r.retain),
                tuple(r.subscription_ids),
                r.packet_id,
                r.state,
                r.seq,
            )
            (inflight_of if r.state else queued_of)[r.client_id].append(record)
        records = []
        for r in sessions:
            will = None
            if r.will_topic is not None:
                will = MessageRecord(
                    r.will_topic,
                    bytes(r.will_payload),
                    r.will_qos,
                    bool(r.will_retain),
                    bytes(r.will_properties),
                    r.will_expires_at,
                )
            records.append(
                SessionRecord(
                    r.client_id,
                    r.expiry_interval,
                    r.disconnected_at,
                    tuple(subs_of.get(r.client_id, ())),
                    tuple(inflight_of.get(r.client_id, ())),
                    tuple(queued_of.get(r.client_id, ())),
                    tuple(r.awaiting_rel),
                    will,
                    r.will_at,
                    bool(r.online),
                )
            )
        return StoredState(records, [_message(r) for r in retained])

    async def save(
        self,
        sessions: Sequence[SessionChange],
        deleted_sessions: Sequence[str],
        retained: Sequence[MessageRecord],
        deleted_retained: Sequence[str],
    ) -> None:
        lost: list[str] = []
        async with self._db.write() as conn:
            if self.node is not None and (sessions or deleted_sessions):
                sessions, deleted_sessions, lost = await self._fence(conn, sessions, deleted_sessions)
            await self._apply(conn, sessions, deleted_sessions, retained, deleted_retained)
        if lost:
            log.warning("MQTT sessions held by another node now, not saved here: %s", ", ".join(lost))
            if self.on_lost is not None:
                self.on_lost(lost)

    async def _fence(
        self, conn: AsyncConnection, sessions: Sequence[SessionChange], deleted: Sequence[str]
    ) -> tuple[list[SessionChange], list[str], list[str]]:
        """Leave out what concerns rows this node does not hold (locked until the commit, so that a node
        taking one over waits for this save or this save sees it gone). A new session (no row) is ours."""
        ids = list({*deleted, *(change.client_id for change in sessions)})
        rows = await conn.execute(
            select(_sess.c.client_id, _sess.c.node)
            .where(_sess.c.client_id == any_(bindparam("ids", ids, type_=ARRAY(Text))))
            .with_for_update()
        )
        holder = {r.client_id: r.node for r in rows}
        me = self.node
        kept = [
            change
            for change in sessions
            if holder.get(change.client_id, me if change.replace else None) == me
        ]
        lost = list({c.client_id: None for c in sessions if holder.get(c.client_id, me) != me})
        return kept, [cid for cid in deleted if holder.get(cid) == me], lost

    async def _apply(
        self,
        conn: AsyncConnection,
        sessions: Sequence[SessionChange],
        deleted_sessions: Sequence[str],
        retained: Sequence[MessageRecord],
        deleted_retained: Sequence[str],
    ) -> None:
        gone = [{"b_client_id": c} for c in deleted_sessions]
        gone += [{"b_client_id": c.client_id} for c in sessions if c.replace]
        new_headers: list[dict[str, Any]] = []
        headers: list[dict[str, Any]] = []
        changed_subs: list[dict[str, Any]] = []
        new_subs: list[dict[str, Any]] = []
        removed: list[dict[str, Any]] = []
        updated: list[dict[str, Any]] = []
        added: list[dict[str, Any]] = []
        for change in sessions:
            cid = change.client_id
            if change.replace:
                if change.header is None or change.subscriptions is None:
                    raise ValueError(f"replacing MQTT session {cid!r} needs its header and subscriptions")
                row = _header_row(cid, change.header)
                row["node"] = self.node
                new_headers.append(row)
            elif change.header is not None:
                row = _header_row(cid, change.header)
                row["b_client_id"] = row.pop("client_id")
                headers.append(row)
            if change.subscriptions is not None:
                if not change.replace:
                    changed_subs.append({"b_client_id": cid})
                new_subs += _subscription_rows(cid, change.subscriptions)
            removed += [{"b_client_id": cid, "b_seq": seq} for seq in change.removed]
            updated += [
                {"b_client_id": cid, "b_seq": seq, "packet_id": pid, "state": state}
                for seq, pid, state in change.updated
            ]
            added += [_delivery_row(cid, d) for d in change.added]
        retained_rows = [
            {
                "topic": m.topic,
                "payload": m.payload,
                "qos": m.qos,
                "retain": m.retain,
                "properties": m.properties,
                "expires_at": m.expires_at,
            }
            for m in retained
        ]
        topics = [{"b_topic": t} for t in (*deleted_retained, *(m.topic for m in retained))]
        for statement in _DELETE_SESSION:
            await _many(conn, statement, gone)
        await _many(conn, insert(_sess), new_headers)
        await _many(conn, _UPDATE_HEADER, headers)
        await _many(conn, _DELETE_SUBSCRIPTIONS, changed_subs)
        await _many(conn, insert(_subs), new_subs)
        await _many(conn, _DELETE_DELIVERY, removed)
        await _many(conn, _UPDATE_DELIVERY, updated)
        await _many(conn, insert(_dlv), added)
        await _many(conn, _DELETE_RETAINED, topics)
        await _many(conn, insert(_ret), retained_rows)

    # ------------------------------------------------------------------ the cluster's session directory

    async def holder(self, client_id: str) -> str | None:
        """The node holding the stored session of `client_id`: None without one, "" for a row of no node
        (saved without a cluster)."""
        async with self._db.read() as conn:
            row = (await conn.execute(select(_sess.c.node).where(_sess.c.client_id == client_id))).first()
        return None if row is None else row.node or ""

    async def claim(self, client_id: str, holder: str) -> bool:
        """Take the stored session of `client_id` from `holder` ("" for no node); whether it was still
        `holder`'s (one statement: of several nodes claiming it, one gets it)."""
        held = _sess.c.node.is_(None) if holder == "" else _sess.c.node == holder
        async with self._db.write() as conn:
            result = await conn.execute(
                update(_sess).where(_sess.c.client_id == client_id, held).values(node=self.node)
            )
        return bool(result.rowcount)

    async def hand_over(self, client_id: str, change: SessionChange | None, node: str) -> bool:
        """Save this node's last `change` of the session of `client_id` and give it to `node`, in one
        transaction; whether it was this node's to give."""
        async with self._db.write() as conn:
            kept, _, lost = await self._fence(conn, [change] if change is not None else [], [])
            if lost:
                return False
            await self._apply(conn, kept, [], [], [])
            result = await conn.execute(
                update(_sess)
                .where(_sess.c.client_id == client_id, _sess.c.node == self.node)
                .values(node=node)
            )
        return bool(result.rowcount)

    async def adopt(self, nodes: Sequence[str], orphans: bool = False) -> list[str]:
        """Take every stored session held by one of `nodes` (gone) and, with `orphans`, those of no node;
        returns their client ids. One statement: of several nodes adopting at once, each session goes to
        one."""
        held = _sess.c.node == any_(bindparam("nodes", list(nodes), type_=ARRAY(Text)))
        async with self._db.write() as conn:
            rows = await conn.execute(
                update(_sess)
                .where(or_(held, _sess.c.node.is_(None)) if orphans else held)
                .values(node=self.node)
                .returning(_sess.c.client_id)
            )
            return [r.client_id for r in rows]

    async def nodes(self) -> list[str]:
        """The nodes holding stored sessions ("" for rows of no node)."""
        async with self._db.read() as conn:
            rows = await conn.execute(select(_sess.c.node).distinct())
            return [r.node or "" for r in rows]


async def _many(conn: AsyncConnection, statement: Any, rows: list[dict[str, Any]]) -> None:
    """One statement for every parameter set, in one round trip (none without parameter sets)."""
    if rows:
        await conn.execute(statement, rows)
