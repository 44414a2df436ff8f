"""What changed in a persistent session since its last save (:class:`~tether.broker.persistence.Persistence`),
and a stored session made live again with what the store holds of it.

A :class:`SavedSession` remembers what the store holds of one live session: the seq of each stored delivery,
the stored flow state of those in flight, the header and subscriptions as saved, and the shape of the outbox,
so that :func:`session_change` costs what changed (one queued message: one new delivery row), not a rewrite
of the queue.
"""

from __future__ import annotations

import time
from itertools import chain, islice

from tether.mqtt.packets import RetainHandling

from .inflight import Delivery
from .session_records import RecordDecoder, RecordEncoder
from .sessions import Session
from .storage import DeliveryRecord, SessionChange, SessionHeader, SessionRecord, SubscriptionRecord
from .subscriptions import Subscription
from .will import PendingWill

__all__ = ["HeaderKey", "SavedSession", "restore_session", "session_change"]

#: A session's header as compared between saves: expiry, disconnected at, awaiting PUBREL, will, online.
HeaderKey = tuple[int, float, tuple[int, ...], PendingWill | None, bool]


class SavedSession:
    """What the store holds for one live session, to compute the next :class:`SessionChange`."""

    __slots__ = (
        "disconnected_at",
        "first",
        "flows",
        "header",
        "inflight",
        "last",
        "next_seq",
        "offline",
        "queued",
        "seqs",
        "session",
        "subscriptions",
        "tail",
        "total",
    )

    def __init__(self, session: Session) -> None:
        self.session = session
        self.reset()

    def reset(self) -> None:
        """Forget what the store holds: the session is stored anew, renumbered."""
        #: Stored deliveries -> their seq (the Delivery objects are keys by identity).
        self.seqs: dict[Delivery, int] = {}
        #: (packet id, state) as stored, for the deliveries stored in flight.
        self.flows: dict[Delivery, tuple[int, int]] = {}
        self.next_seq = 1
        self.header: HeaderKey | None = None
        self.subscriptions: tuple[SubscriptionRecord, ...] | None = None
        # The shape of the outbox when saved, for the fast path of a session offline since then.
        self.offline = False
        self.disconnected_at = 0.0
        self.inflight = 0
        self.queued = 0
        self.first: Delivery | None = None
        self.last: Delivery | None = None
        # The length of the window + queue and its last delivery, for the fast path of messages added only.
        self.total = 0
        self.tail: Delivery | None = None

    def remember_outbox(self) -> None:
        session = self.session
        queue = session.outbox.queue
        self.offline = not session.online
        self.disconnected_at = session.disconnected_at
        self.inflight = len(session.outbox.inflight)
        self.queued = len(queue)
        self.first = queue[0] if queue else None
        self.last = queue[-1] if queue else None
        inflight = session.outbox.inflight
        self.total = len(inflight) + len(queue)
        self.tail = queue[-1] if queue else next(reversed(inflight.values())) if inflight else None


def session_change(saved: SavedSession, encoder: RecordEncoder) -> SessionChange | None:
    """What to save of ``saved.session`` since its last save; ``saved`` then describes the stored state."""
    session = saved.session
    replace = saved.header is None
    # Header: compared by value (the will by identity), encoded only when it changed.
    will = session.pending_will
    if will is not None and not will.pending:
        will = None
    # An online session is saved as if disconnected now (what a restart will do to it).
    disconnected_at = time.time() if session.online else session.disconnected_at
    key: HeaderKey = (
        session.expiry_interval,
        disconnected_at,
        tuple(sorted(session.awaiting_rel)),
        will,
        session.online,
    )
    header = None
    if replace or key != saved.header:
        header = SessionHeader(
            key[0],
            disconnected_at,
            key[2],
            None if will is None else encoder.message(will.message),
            None if will is None else encoder.wall(will.due),
            key[4],
        )
    subscriptions: tuple[SubscriptionRecord, ...] | None = tuple(
        SubscriptionRecord(
            s.topic_filter, s.qos, s.no_local, s.retain_as_published, int(s.retain_handling), s.identifier
        )
        for s in session.subscriptions.values()
    )
    if not replace and subscriptions == saved.subscriptions:
        subscriptions = None
    deliveries = _deliveries(saved, encoder)
    if deliveries is None:
        # Out of seq order (not expected: the window is filled from the queue in order): store the
        # session anew, renumbered.
        saved.reset()
        return session_change(saved, encoder)
    added, updated, removed = deliveries
    saved.remember_outbox()
    if not (replace or header or subscriptions is not None or added or updated or removed):
        return None
    saved.header = key
    if subscriptions is not None:
        saved.subscriptions = subscriptions
    return SessionChange(
        session.client_id,
        header,
        subscriptions,
        tuple(added),
        tuple(updated),
        tuple(removed),
        replace,
    )


def _deliveries(
    saved: SavedSession, encoder: RecordEncoder
) -> tuple[list[DeliveryRecord], list[tuple[int, int, int]], list[int]] | None:
    """Deliveries added, advanced and gone since the last save (``None``: out of seq order)."""
    session = saved.session
    outbox = session.outbox
    inflight, queue = outbox.inflight, outbox.queue
    seqs, flows = saved.seqs, saved.flows
    added: list[DeliveryRecord] = []
    n_new = len(queue) - saved.queued
    if (
        saved.offline
        and not session.online
        and session.disconnected_at == saved.disconnected_at
        and len(inflight) == saved.inflight
        and n_new >= 0
        and (not saved.queued or (queue[0] is saved.first and queue[saved.queued - 1] is saved.last))
    ):
        # Offline ever since the last save: nothing was sent or acknowledged, messages were only
        # queued at the end. Cost proportional to the new messages, not to the queue.
        for d in reversed(list(islice(reversed(queue), n_new))):
            seqs[d] = saved.next_seq
            added.append(encoder.delivery(d, saved.next_seq))
            saved.next_seq += 1
        return added, [], []
    n_new = len(inflight) + len(queue) - saved.total
    moved = min(len(inflight), saved.total) - saved.inflight
    if saved.tail is not None and n_new >= 0 and moved >= 0:
        # If no stored delivery has gone (each would shift the last stored one towards the end), messages
        # were only added at the end of window + queue, and ``moved`` stored ones went from the queue
        # into the window. Cost proportional to those, not to the queue. (A QoS 2 copy whose PUBREC came
        # is saved by the next full pass; until then a restart sends its PUBLISH again, DUP, with the same
        # Packet Identifier, which the client does not forward twice, spec 4.3.3.)
        tail = list(islice(chain(reversed(queue), reversed(inflight.values())), n_new + 1))
        if len(tail) == n_new + 1 and tail[-1] is saved.tail:
            for d in reversed(tail[:-1]):
                seqs[d] = saved.next_seq
                added.append(encoder.delivery(d, saved.next_seq))
                if d.state:
                    flows[d] = (d.packet_id, d.state)
                saved.next_seq += 1
            moves: list[tuple[int, int, int]] = []
            if moved:
                new_in_window = max(0, len(inflight) - saved.total)
                for d in islice(reversed(inflight.values()), new_in_window, new_in_window + moved):
                    flows[d] = (d.packet_id, d.state)
                    moves.append((seqs[d], d.packet_id, d.state))
            return added, moves, []
    # In flight, then queued, in order; the stored ones keep their seq.
    updated: list[tuple[int, int, int]] = []
    kept = 0
    last = 0
    for d in chain(inflight.values(), queue):
        seq = seqs.get(d)
        if seq is None:
            seq = seqs[d] = saved.next_seq
            saved.next_seq += 1
            added.append(encoder.delivery(d, seq))
            if d.state:
                flows[d] = (d.packet_id, d.state)
        else:
            kept += 1
            if seq < last:
                return None
            stored = flows.get(d)
            if d.state or stored is not None:
                flow = (d.packet_id, d.state)
                if flow != stored:
                    updated.append((seq, d.packet_id, d.state))
                    if d.state:
                        flows[d] = flow
                    else:
                        del flows[d]
        last = seq
    removed: list[int] = []
    if kept + len(added) < len(seqs):
        live = set(chain(inflight.values(), queue))
        for d in [d for d in seqs if d not in live]:
            removed.append(seqs.pop(d))
            flows.pop(d, None)
    return added, updated, removed


def restore_session(
    record: SessionRecord, max_queued: int, decoder: RecordDecoder
) -> tuple[Session, SavedSession]:
    """The live session of a stored one, and what the store holds of it (its header key is set by the
    caller)."""
    session = Session(record.client_id, max_queued)
    session.expiry_interval = record.expiry_interval
    session.disconnected_at = record.disconnected_at
    for s in record.subscriptions:
        share = s.topic_filter.split("/", 2)[1] if s.topic_filter.startswith("$share/") else None
        session.add_subscription(
            Subscription(
                record.client_id,
                s.topic_filter,
                s.qos,
                s.no_local,
                s.retain_as_published,
                RetainHandling(s.retain_handling),
                s.identifier,
                share,
            )
        )
    saved = SavedSession(session)
    saved.subscriptions = record.subscriptions
    outbox = session.outbox
    for rec in chain(record.inflight, record.queued):
        d = decoder.delivery(rec)
        if rec.state:
            outbox.put(rec.packet_id, d)
            saved.flows[d] = (rec.packet_id, rec.state)
        else:
            outbox.append(d)
        saved.seqs[d] = rec.seq
        saved.next_seq = max(saved.next_seq, rec.seq + 1)
    for pid in record.awaiting_rel:
        session.await_rel(pid)
    return session, saved
