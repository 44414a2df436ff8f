"""Channel names per endpoint family and where each domain event is delivered."""

from __future__ import annotations

import pytest
from tests.realtime.helpers import event

from tether.core.events import DomainEvent
from tether.realtime.channels import Endpoint, InvalidChannel, Target, targets, validate


@pytest.mark.parametrize(
    "channel",
    [
        "/measurements/123",
        "/measurements/*",
        "/managedobjects/1",
        "/events/*",
        "/alarms/42",
        "/operations/7",
        "/operations/*",
    ],
)
def test_realtime_channels(channel: str) -> None:
    assert validate(Endpoint.REALTIME, channel) == channel


@pytest.mark.parametrize(
    "channel",
    [
        "/measurements/abc",
        "/measurements/",
        "/measurements",
        "/measurements/1/2",
        "/measurements/**",
        "/measurement/1",
        "/inventory/1",
        "/123",
        "/meta/connect",
        "measurements/1",
        "/measurements/1 ",
        "/measurements/" + "9" * 19,
        "",
        None,
        17,
        ["/measurements/1"],
    ],
)
def test_invalid_realtime_channels(channel: object) -> None:
    with pytest.raises(InvalidChannel):
        validate(Endpoint.REALTIME, channel)


@pytest.mark.parametrize("channel", ["/2480300", "/*"])
def test_operations_channels(channel: str) -> None:
    assert validate(Endpoint.OPERATIONS, channel) == channel


@pytest.mark.parametrize("channel", ["/abc", "/operations/1", "/measurements/*", "/", "/1/2", "2480300"])
def test_invalid_operations_channels(channel: str) -> None:
    with pytest.raises(InvalidChannel):
        validate(Endpoint.OPERATIONS, channel)


@pytest.mark.parametrize("resource", ["managedobjects", "measurements", "events", "alarms"])
def test_data_goes_to_its_source_channel(resource: str) -> None:
    assert targets(event(resource, 5)) == [Target(Endpoint.REALTIME, f"/{resource}/5", f"/{resource}/*")]


def test_operations_also_go_to_their_agent() -> None:
    found = targets(event("operations", 5, object_id=99, agent_id=3))
    assert found == [
        Target(Endpoint.REALTIME, "/operations/5", "/operations/*"),
        Target(Endpoint.OPERATIONS, "/3", "/*"),
    ]


def test_an_operation_without_agent_goes_to_its_device() -> None:
    assert Target(Endpoint.OPERATIONS, "/5", "/*") in targets(event("operations", 5))


def test_unknown_resources_and_sourceless_data_go_nowhere() -> None:
    assert targets(event("shadows", 5)) == []
    assert targets(DomainEvent("t1", "measurements", "CREATE", None, None, {})) == []
