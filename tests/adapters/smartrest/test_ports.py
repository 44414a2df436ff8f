"""Custom templates and operation dispatch driven through their ports (smartrest/ports.py) against small
in-memory fakes: no broker, no server, no storage. The fakes record what the parts ask of a connection."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine, Sequence
from typing import Any

import orjson

from tether.adapters.login import Login
from tether.adapters.policy import Policy
from tether.adapters.smartrest.context import DeviceRef
from tether.adapters.smartrest.custom import CustomTemplates
from tether.adapters.smartrest.dispatch import NOTIFICATIONS, OperationDispatcher
from tether.adapters.smartrest.errors import Code, SmartRestError
from tether.adapters.smartrest.ingest import Rejected
from tether.adapters.smartrest.session import DeviceSession
from tether.broker import ClientInfo
from tether.core.events import DomainEvent
from tether.core.processing import ProcessingMode
from tether.mqtt.reason_codes import ReasonCode
from tether.operations.models import Operation, OperationStatus
from tether.telemetry.measurements import IngestRow, SourceGrant
from tether.tenants.models import Principal, Role

TENANT = "t1"
ROOT_ID = 7

TEMPLATES = "\n".join(
    [
        "10,999,POST,MEASUREMENT,,c8y_MyMeasurement,,c8y_MyMeasurement.M.value,NUMBER,,c8y_MyMeasurement.M.unit,STRING,X",
        "11,111,c8y_Restart,deviceId,reason",
    ]
)


def _session(serial: str = "dev1", subscriptions: tuple[str, ...] = ()) -> DeviceSession:
    who = Principal(TENANT, f"device_{serial}", frozenset({Role.DEVICE}))
    login = Login(who, "user", Policy(), serial=serial)
    client = ClientInfo(serial, f"device_{serial}", 5, "mqtt", login=login)
    session = DeviceSession(client)
    for topic_filter in subscriptions:
        session.subscribed(topic_filter)
    return session


def _ref(mo_id: int, xid: str, *, is_root: bool = False) -> DeviceRef:
    return DeviceRef(mo_id, xid, SourceGrant(TENANT, mo_id, object()), is_root)


def _operation(op_id: int, device_id: int, fragments: dict[str, Any], agent_id: int = ROOT_ID) -> Operation:
    return Operation(
        id=op_id,
        tenant_id=TENANT,
        device_id=device_id,
        agent_id=agent_id,
        status=OperationStatus.PENDING,
        creation_time=1_700_000_000_000,
        last_updated=1_700_000_000_000,
        fragments=fragments,
    )


def _created(op: Operation) -> DomainEvent:
    return DomainEvent(TENANT, "operations", "CREATE", op.id, op.device_id, op, op.agent_id)


class NoServices:
    """The domain services of a test whose path must not touch them."""

    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"unexpected use of the {name} service")


class FakeConnections:
    """ports.Connections in memory: what was published, reported and stored; devices resolve to `root`."""

    def __init__(self, root: DeviceRef) -> None:
        self.root_ref = root
        self.published: list[tuple[str, str]] = []
        self.reported: list[SmartRestError] = []
        self.stored: list[tuple[list[IngestRow], ProcessingMode]] = []
        self.targets: list[str] = []

    def publish(self, session: DeviceSession, topic: str, payload: str | bytes) -> int:
        self.published.append((topic, payload if isinstance(payload, str) else payload.decode()))
        return 1

    def report(self, session: DeviceSession, error: SmartRestError, topic: str = "s/e") -> None:
        self.reported.append(error)

    def result(self, session: DeviceSession, worst: Code | None) -> ReasonCode | None:
        return None if worst is None else ReasonCode.IMPLEMENTATION_SPECIFIC_ERROR

    async def root(self, session: DeviceSession, *, create: bool = True) -> DeviceRef | None:
        session.remember(self.root_ref)
        return self.root_ref

    async def target(self, session: DeviceSession, child: str, *, create: bool = True) -> DeviceRef | None:
        self.targets.append(child)
        return await self.root(session)

    async def store_measurements(
        self,
        session: DeviceSession,
        measurements: Sequence[IngestRow],
        mode: ProcessingMode,
        rejected: Rejected | None = None,
    ) -> ReasonCode | None:
        self.stored.append((list(measurements), mode))
        return None


class FakeTemplateStore:
    """store.SmartRestTemplateStore in memory."""

    def __init__(self) -> None:
        self.collections: dict[tuple[str, str], tuple[int, dict[str, Any]]] = {}

    async def create(self, tenant_id: str, xid: str, owner: str, templates: dict[str, Any], now: int) -> int:
        new_id = len(self.collections) + 100
        self.collections[(tenant_id, xid)] = (new_id, templates)
        return new_id

    async def get(self, tenant_id: str, xid: str) -> tuple[int, dict[str, Any]] | None:
        return self.collections.get((tenant_id, xid))


class FakeResponseTemplates:
    """ports.ResponseTemplates in memory: one line per operation on s/dc/X1 once loaded."""

    def __init__(self, *, loaded: bool) -> None:
        self.loaded = loaded
        self.loads = 0

    def ready(self, session: DeviceSession) -> bool:
        return self.loaded

    async def load(self, session: DeviceSession) -> None:
        self.loads += 1
        self.loaded = True

    def operation_lines(self, session: DeviceSession, op: Operation, xid: str) -> list[tuple[str, list[str]]]:
        assert self.loaded
        return [("s/dc/X1", [f"111,{xid},{op.id}"])]


class FakeDevices:
    """The external ids the dispatcher looks up for devices the connection has not resolved."""

    def __init__(self, xids: dict[int, str]) -> None:
        self.xids = xids
        self.lookups: list[int] = []

    async def external_id(self, who: Principal, mo_id: int) -> str:
        self.lookups.append(mo_id)
        return self.xids[mo_id]


# ---------------------------------------------------------------------------------- custom templates


def test_custom_templates_register_answer_on_s_dt_and_feed_the_ingest_port() -> None:
    root = _ref(ROOT_ID, "dev1", is_root=True)
    connections = FakeConnections(root)
    store = FakeTemplateStore()
    custom = CustomTemplates(NoServices(), connections, store)  # type: ignore[arg-type]
    session = _session()
    mode = ProcessingMode.PERSISTENT

    async def run() -> None:
        assert await custom.handle(session, mode, "ut", "X1", b"") is None
        assert await custom.handle(session, mode, "ut", "X1", TEMPLATES.encode()) is None
        assert await custom.handle(session, mode, "ut", "X1", b"") is None
        assert await custom.handle(session, mode, "uc", "X1", b"999,2024-05-01T10:00:00Z,21.5") is None

    asyncio.run(run())
    assert connections.published == [("s/dt", "41,X1"), ("s/dt", "20,X1,100"), ("s/dt", "20,X1,100")]
    assert list(store.collections) == [(TENANT, "X1")]
    assert connections.targets == [""]
    [(rows, stored_mode)] = connections.stored
    assert stored_mode is mode
    [(grant, type_, time, fragments)] = rows
    assert (grant, type_) == (root.grant, "c8y_MyMeasurement")
    assert time == 1_714_557_600_000
    assert fragments == {"c8y_MyMeasurement": {"M": {"value": 21.5, "unit": "X"}}}
    assert connections.reported == []


def test_custom_templates_report_problems_through_the_port() -> None:
    connections = FakeConnections(_ref(ROOT_ID, "dev1", is_root=True))
    custom = CustomTemplates(NoServices(), connections, FakeTemplateStore())  # type: ignore[arg-type]
    session = _session()
    mode = ProcessingMode.PERSISTENT

    async def run() -> list[ReasonCode | None]:
        return [
            await custom.handle(session, mode, "uc", "X9", b"\xff\xfe"),
            await custom.handle(session, mode, "uc", "X9", b"999,,1"),
            await custom.handle(session, mode, "ud", "", b"999,,1"),  # no default X-ID in the ClientId
        ]

    results = asyncio.run(run())
    assert results == [ReasonCode.IMPLEMENTATION_SPECIFIC_ERROR] * 3
    assert [(e.code, e.template) for e in connections.reported] == [
        (Code.MALFORMED, ""),
        (Code.UNKNOWN_TEMPLATE, "999"),
        (Code.UNKNOWN_TEMPLATE, ""),
    ]
    assert connections.published == []
    assert connections.stored == []


def test_custom_response_templates_render_operations_once_loaded() -> None:
    connections = FakeConnections(_ref(ROOT_ID, "dev1", is_root=True))
    store = FakeTemplateStore()
    custom = CustomTemplates(NoServices(), connections, store)  # type: ignore[arg-type]
    registering = _session("dev0")
    listening = _session(subscriptions=("s/dc/X1", "s/ds"))
    op = _operation(5, ROOT_ID, {"c8y_Restart": {"reason": "maintenance"}})

    async def run() -> None:
        await custom.handle(registering, ProcessingMode.PERSISTENT, "ut", "X1", TEMPLATES.encode())
        custom._cache.clear()  # as after a restart: the collection is in the store only
        assert not custom.ready(listening)
        await custom.load(listening)

    asyncio.run(run())
    assert custom.ready(listening)
    assert custom.operation_lines(listening, op, "dev1") == [("s/dc/X1", ["111,dev1,maintenance"])]
    assert custom.operation_lines(registering, op, "dev1") == []  # not subscribed to s/dc/X1


# ---------------------------------------------------------------------------------- operation dispatch


def _dispatcher(
    templates: FakeResponseTemplates, devices: FakeDevices | None = None
) -> tuple[OperationDispatcher, FakeConnections, list[Coroutine[Any, Any, None]]]:
    connections = FakeConnections(_ref(ROOT_ID, "dev1", is_root=True))
    spawned: list[Coroutine[Any, Any, None]] = []
    dispatcher = OperationDispatcher(
        NoServices(),  # type: ignore[arg-type]
        connections,
        devices or FakeDevices({}),  # type: ignore[arg-type]
        templates,
        spawned.append,
    )
    return dispatcher, connections, spawned


def test_dispatch_publishes_at_once_when_device_and_templates_are_known() -> None:
    dispatcher, connections, spawned = _dispatcher(FakeResponseTemplates(loaded=True))
    session = _session()
    root = _ref(ROOT_ID, "dev1", is_root=True)
    session.remember(root)
    dispatcher.index(session, root)

    dispatcher.on_event(_created(_operation(5, ROOT_ID, {"c8y_Restart": {}})))

    assert spawned == []
    assert connections.published == [("s/ds", "510,dev1"), ("s/dc/X1", "111,dev1,5")]


def test_dispatch_resolves_an_unknown_child_in_the_background_json_without_static_template() -> None:
    templates = FakeResponseTemplates(loaded=False)
    devices = FakeDevices({9: "child9"})
    dispatcher, connections, spawned = _dispatcher(templates, devices)
    session = _session()
    root = _ref(ROOT_ID, "dev1", is_root=True)
    session.remember(root)
    dispatcher.index(session, root)
    op = _operation(6, 9, {"c8y_Custom": {"a": 1}})  # for a child the connection did not resolve

    dispatcher.on_event(_created(op))
    assert connections.published == []
    [work] = spawned
    asyncio.run(work)

    assert devices.lookups == [9]
    assert templates.loads == 1
    [custom, (topic, body)] = connections.published
    assert custom == ("s/dc/X1", "111,child9,6")
    assert topic == NOTIFICATIONS
    document = orjson.loads(body)
    assert document["externalSource"] == {"externalId": "child9", "type": "c8y_Serial"}
    assert (document["id"], document["deviceId"], document["c8y_Custom"]) == ("6", "9", {"a": 1})


def test_dispatch_forgets_a_deleted_device_and_a_closed_connection() -> None:
    dispatcher, connections, spawned = _dispatcher(FakeResponseTemplates(loaded=True))
    session = _session()
    root = _ref(ROOT_ID, "dev1", is_root=True)
    session.remember(root)
    dispatcher.index(session, root)

    dispatcher.on_event(DomainEvent(TENANT, "managedobjects", "DELETE", ROOT_ID, ROOT_ID, None))
    assert session.root is None and ROOT_ID not in session.by_id
    dispatcher.on_event(_created(_operation(7, ROOT_ID, {"c8y_Restart": {}})))

    other = _session("dev2")
    other.closed = True  # e.g. the session of a will published after the disconnection
    ref = _ref(8, "dev2", is_root=True)
    other.remember(ref)
    dispatcher.index(other, ref)
    dispatcher.on_event(_created(_operation(8, 8, {"c8y_Restart": {}}, agent_id=8)))

    assert connections.published == []
    assert spawned == []
