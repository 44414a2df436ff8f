"""The rules of global roles without a server: a principal's rights from its own and its groups' roles, the
REST gate's family of each path, and what it admits."""

from __future__ import annotations

import pytest

from tether.api.permissions import admitted, listener, required
from tether.core.errors import Forbidden
from tether.tenants.models import Group, Principal, Role, User
from tether.tenants.permissions import ADMIN_ROLES, DEFAULT_GROUPS, principal_of


def _user(*roles: str, tether: frozenset[Role] = frozenset()) -> User:
    return User("t1", "ann", "h", tether, 0, global_roles=frozenset(roles))


def test_a_person_holds_its_own_and_its_groups_roles() -> None:
    group = Group("t1", 1, "ops", roles=frozenset({"ROLE_ALARM_ADMIN"}))
    who = principal_of(_user("ROLE_EVENT_READ"), [group])
    assert who.grants == {"ROLE_EVENT_READ", "ROLE_ALARM_ADMIN"} and not who.is_admin
    assert who.may("EVENT", False) and not who.may("EVENT", True)
    assert who.may("ALARM", True) and not who.may("INVENTORY", False)


def test_every_role_makes_an_administrator_but_not_of_a_device() -> None:
    admins = Group("t1", 1, "admins", roles=DEFAULT_GROUPS["admins"][1])
    assert principal_of(_user(), [admins]).is_admin
    almost = Group("t1", 2, "x", roles=ADMIN_ROLES - {"ROLE_AUDIT_READ"})
    assert not principal_of(_user(), [almost]).is_admin
    device = principal_of(_user(tether=frozenset({Role.DEVICE})), [admins])
    assert not device.is_admin and device.is_device


@pytest.mark.parametrize(
    ("method", "path", "family", "roles"),
    [
        ("GET", "/inventory/managedObjects/5", "INVENTORY", {"ROLE_INVENTORY_READ", "ROLE_INVENTORY_ADMIN"}),
        ("POST", "/inventory/managedObjects", "INVENTORY", {"ROLE_INVENTORY_ADMIN", "ROLE_INVENTORY_CREATE"}),
        ("PUT", "/inventory/managedObjects/5", "INVENTORY", {"ROLE_INVENTORY_ADMIN"}),
        ("DELETE", "/devicecontrol/newDeviceRequests/S", "DEVICE_CONTROL", {"ROLE_USER_MANAGEMENT_ADMIN"}),
        (
            "POST",
            "/devicecontrol/bulkoperations",
            "DEVICE_CONTROL",
            {"ROLE_BULK_OPERATION_ADMIN", "ROLE_DEVICE_CONTROL_ADMIN"},
        ),
        (
            "GET",
            "/tenant/tenants/t1/trusted-certificates",
            "TENANT_MANAGEMENT",
            {"ROLE_TENANT_MANAGEMENT_ADMIN"},
        ),
        ("HEAD", "/alarm/alarms", "ALARM", {"ROLE_ALARM_READ", "ROLE_ALARM_ADMIN"}),
    ],
)
def test_the_gate_maps_paths_to_families(method: str, path: str, family: str, roles: set[str]) -> None:
    assert required(method, path) == (family, frozenset(roles))


@pytest.mark.parametrize(
    "path", ["/user/currentUser", "/tenant/currentTenant", "/user/t1/users", "/cep/realtime"]
)
def test_paths_without_a_family_are_not_gated(path: str) -> None:
    assert required("GET", path) is None
    nobody = Principal("t1", "ann")
    assert admitted(nobody, "GET", path) is nobody


def test_admission_scopes_the_administrator_to_one_family() -> None:
    reader = Principal("t1", "ann", grants=frozenset({"ROLE_MEASUREMENT_READ"}))
    inside = admitted(reader, "GET", "/measurement/measurements")
    assert inside.is_admin and inside.family == "MEASUREMENT"
    assert inside.may("MEASUREMENT", True) and not inside.may("USER_MANAGEMENT", True)
    with pytest.raises(Forbidden):
        admitted(reader, "POST", "/measurement/measurements")
    with pytest.raises(Forbidden):
        admitted(reader, "GET", "/event/events")
    device = Principal("t1", "device_1", frozenset({Role.DEVICE}))
    assert admitted(device, "POST", "/event/events") is device  # devices keep their own rules


def test_a_listener_reads_every_family_the_notifications_carry() -> None:
    reads = frozenset(
        f"ROLE_{f}_READ" for f in ("INVENTORY", "MEASUREMENT", "EVENT", "ALARM", "DEVICE_CONTROL")
    )
    listening = listener(Principal("t1", "ann", grants=reads))
    assert listening is not None and listening.is_admin
    partial = Principal("t1", "bob", grants=reads - {"ROLE_ALARM_READ"})
    assert listener(partial) is partial and not partial.is_admin
    assert listener(None) is None
