"""The credential services over fake stores: API keys, MQTT users, authorization rules, trusted CAs."""

from __future__ import annotations

import pytest
from tests.adapters.certs import make_ca, make_leaf
from tests.fakes.credentials import (
    FakeAclRuleStore,
    FakeApiKeyStore,
    FakeMqttUserStore,
    FakeTrustedCertificateStore,
)
from tests.unit.conftest import ADMIN, OTHER_ADMIN, device_user

from tether.core.clock import now_ms
from tether.core.errors import BadRequest, Conflict, Forbidden, InvalidInput, NotFound
from tether.core.paging import PageRequest
from tether.credentials.api_keys import ApiKeyService, api_key_principal, looks_like_api_key
from tether.credentials.authorization import AclService
from tether.credentials.certificates import TrustedCertificateService, common_name, format_dn
from tether.credentials.models import AclRule, Action, CertificateStatus, Permission, RuleScope
from tether.credentials.mqtt_users import MqttUserService
from tether.credentials.rules import decide

pytestmark = pytest.mark.anyio
DEVICE = device_user("device_a")

# -- API keys ---------------------------------------------------------------------------------------


async def test_api_key_secret_is_shown_once_and_authenticates_while_usable() -> None:
    keys = ApiKeyService(FakeApiKeyStore())
    created = await keys.create(ADMIN, "ci-bot", desc="CI")
    key = created.key
    assert looks_like_api_key(key.api_key) and created.api_secret not in key.secret_hash
    assert await keys.authenticate(key.api_key, created.api_secret) == key
    assert await keys.authenticate(key.api_key, "wrong") is None
    assert await keys.authenticate("tak_unknown", created.api_secret) is None
    assert api_key_principal(key).is_admin and api_key_principal(key).tenant_id == "t1"

    await keys.update(ADMIN, "ci-bot", enable=False)
    assert await keys.authenticate(key.api_key, created.api_secret) is None  # the cache forgot it
    await keys.update(ADMIN, "ci-bot", enable=True, set_expiry=True, expired_at=now_ms() - 1)
    assert await keys.authenticate(key.api_key, created.api_secret) is None
    await keys.update(ADMIN, "ci-bot", set_expiry=True, expired_at=None)
    assert await keys.authenticate(key.api_key, created.api_secret) is not None
    await keys.delete(ADMIN, "ci-bot")
    assert await keys.authenticate(key.api_key, created.api_secret) is None
    with pytest.raises(NotFound):
        await keys.get(ADMIN, "ci-bot")


async def test_api_key_names_are_checked_and_unique_per_tenant() -> None:
    keys = ApiKeyService(FakeApiKeyStore())
    await keys.create(ADMIN, "one")
    with pytest.raises(Conflict):
        await keys.create(ADMIN, "one")
    await keys.create(OTHER_ADMIN, "one")
    for bad in ("", "1abc", "a b", "x" * 257):
        with pytest.raises(BadRequest):
            await keys.create(ADMIN, bad)
    with pytest.raises(Forbidden):
        await keys.create(DEVICE, "mine")
    assert [k.name for k in await keys.list_keys(ADMIN)] == ["one"]
    with pytest.raises(NotFound):
        await keys.delete(OTHER_ADMIN, "two")


# -- MQTT users -------------------------------------------------------------------------------------


async def test_mqtt_user_lifecycle_and_authentication() -> None:
    users = MqttUserService(FakeMqttUserStore())
    await users.create(ADMIN, "sensor-1", "pw1")
    await users.create(ADMIN, "gateway", "pw2", is_superuser=True)
    with pytest.raises(Conflict):
        await users.create(ADMIN, "sensor-1", "again")
    assert await users.authenticate("t1", "sensor-1", "pw1") is not None
    assert users.cached("t1", "sensor-1", "pw1") is not None
    assert await users.authenticate("t1", "sensor-1", "bad") is None
    assert await users.authenticate("t2", "sensor-1", "pw1") is None

    await users.update(ADMIN, "sensor-1", password="pw1b")
    assert users.cached("t1", "sensor-1", "pw1") is None
    assert await users.authenticate("t1", "sensor-1", "pw1") is None
    assert await users.authenticate("t1", "sensor-1", "pw1b") is not None

    page = await users.list_users(ADMIN, PageRequest(with_total=True), like="SENS")
    assert [u.user_id for u in page.items] == ["sensor-1"] and page.total_elements == 1
    supers = await users.list_users(ADMIN, PageRequest(), is_superuser=True)
    assert [u.user_id for u in supers.items] == ["gateway"]

    await users.delete(ADMIN, "sensor-1")
    assert await users.authenticate("t1", "sensor-1", "pw1b") is None
    with pytest.raises(NotFound):
        await users.delete(ADMIN, "sensor-1")


async def test_mqtt_user_input_is_checked() -> None:
    users = MqttUserService(FakeMqttUserStore())
    for user_id, password in (("", "pw"), ("t/u", "pw"), ("u", ""), ("u", "x" * 1025)):
        with pytest.raises(BadRequest):
            await users.create(ADMIN, user_id, password)
    await users.create(ADMIN, "u", "pw")
    with pytest.raises(BadRequest):
        await users.update(ADMIN, "u")
    with pytest.raises(Forbidden):
        await users.create(DEVICE, "v", "pw")


# -- authorization rules ----------------------------------------------------------------------------

ALLOW_OWN = AclRule("devices/${username}/#", Permission.ALLOW, Action.ALL)
DENY_ALL = AclRule("#", Permission.DENY, Action.ALL)
ALLOW_STATUS = AclRule("status/${clientid}", Permission.ALLOW, Action.PUBLISH, qos=(0, 1))


async def test_rules_apply_in_emqx_order_with_placeholders_filled() -> None:
    store = FakeAclRuleStore()
    acl = AclService(store)
    await acl.create(ADMIN, RuleScope.USERNAME, [("alice", (ALLOW_OWN,))])
    await acl.create(ADMIN, RuleScope.CLIENTID, [("c1", (ALLOW_STATUS,))])
    await acl.put(ADMIN, RuleScope.ALL, "", (DENY_ALL,))

    rules = await acl.rules_for("t1", "alice", "c1")
    assert decide(rules, True, "devices/alice/temp") is True
    assert decide(rules, True, "devices/bob/temp") is False  # falls through to the deny for all
    assert decide(rules, True, "status/c1", qos=1) is True
    assert decide(rules, True, "status/c1", qos=2) is False  # the qos condition does not hold
    assert decide(rules, False, "status/c1") is False  # publish only
    assert await acl.rules_for("t2", "alice", "c1") == ()  # another tenant has no rules

    assert acl.cached_rules_for("t1", "alice", "c1") == rules
    loads = store.loads
    await acl.rules_for("t1", "bob", "c2")
    assert store.loads == loads  # the tenant's rules stay in memory until a write


async def test_rule_writes_replace_the_cached_rules() -> None:
    acl = AclService(FakeAclRuleStore())
    await acl.create(ADMIN, RuleScope.USERNAME, [("alice", (ALLOW_OWN,))])
    assert decide(await acl.rules_for("t1", "alice", "c"), True, "devices/alice/x") is True
    await acl.put(ADMIN, RuleScope.USERNAME, "alice", (DENY_ALL,))
    assert acl.cached_rules_for("t1", "alice", "c") is None
    assert decide(await acl.rules_for("t1", "alice", "c"), True, "devices/alice/x") is False
    await acl.delete(ADMIN, RuleScope.USERNAME, "alice")
    assert await acl.rules_for("t1", "alice", "c") == ()


async def test_rule_sets_are_created_all_or_none() -> None:
    acl = AclService(FakeAclRuleStore())
    await acl.create(ADMIN, RuleScope.USERNAME, [("alice", (ALLOW_OWN,))])
    with pytest.raises(Conflict, match="alice"):
        await acl.create(ADMIN, RuleScope.USERNAME, [("bob", (ALLOW_OWN,)), ("alice", (DENY_ALL,))])
    with pytest.raises(NotFound):
        await acl.get(ADMIN, RuleScope.USERNAME, "bob")
    with pytest.raises(BadRequest):
        await acl.create(ADMIN, RuleScope.USERNAME, [("carol", ()), ("carol", ())])
    assert (await acl.get(ADMIN, RuleScope.ALL, "")).rules == ()  # `all` exists, empty, without rules
    page = await acl.list_rules(ADMIN, RuleScope.USERNAME, PageRequest(), like="ALI")
    assert [r.who for r in page.items] == ["alice"]
    with pytest.raises(NotFound):
        await acl.delete(ADMIN, RuleScope.CLIENTID, "nobody")
    with pytest.raises(Forbidden):
        await acl.put(DEVICE, RuleScope.ALL, "", ())


# -- trusted certificates ---------------------------------------------------------------------------


async def test_trusted_ca_lifecycle_and_issuer_lookup() -> None:
    certificates = TrustedCertificateService(FakeTrustedCertificateStore())
    added: list[str] = []
    certificates.add_listener(added.append)
    ca = make_ca("Acme CA", "Acme")
    cert = await certificates.create(ADMIN, "t1", name="acme", pem=ca.pem)
    assert added == [cert.cert_pem]
    assert common_name(cert.subject) == "Acme CA" and format_dn(cert.subject).startswith("CN=Acme CA, O=Acme")
    assert certificates.issuer(cert.subject) == cert
    leaf = make_leaf(ca, "device-1")
    assert leaf.cert.issuer == ca.cert.subject

    updated = await certificates.update(
        ADMIN, "t1", cert.fingerprint.upper(), status=CertificateStatus.DISABLED
    )
    assert updated.status is CertificateStatus.DISABLED
    assert certificates.issuer(cert.subject) is None  # a disabled CA admits no device
    await certificates.delete(ADMIN, "t1", cert.fingerprint)
    with pytest.raises(NotFound):
        await certificates.get(ADMIN, "t1", cert.fingerprint)
    assert (await certificates.list_certificates(ADMIN, "t1", PageRequest())).items == []


async def test_a_ca_subject_names_one_tenant() -> None:
    store = FakeTrustedCertificateStore()
    certificates = TrustedCertificateService(store)
    ca = make_ca("Shared CA")
    cert = await certificates.create(ADMIN, "t1", name="shared", pem=ca.pem)
    with pytest.raises(Conflict):  # the same certificate again
        await certificates.create(ADMIN, "t1", name="again", pem=ca.pem)
    with pytest.raises(Conflict, match="another tenant"):  # another CA of the same subject elsewhere
        await certificates.create(OTHER_ADMIN, "t2", name="x", pem=make_ca("Shared CA").pem)
    with pytest.raises(Forbidden):  # an admin manages its own tenant's certificates only
        await certificates.get(OTHER_ADMIN, "t1", cert.fingerprint)
    restarted = TrustedCertificateService(store)
    await restarted.load()
    assert restarted.issuer(cert.subject) == cert


async def test_certificate_input_is_checked() -> None:
    certificates = TrustedCertificateService(FakeTrustedCertificateStore())
    ca = make_ca("Body CA")
    body = "".join(line for line in ca.pem.splitlines() if not line.startswith("-----"))
    assert (await certificates.create(ADMIN, "t1", name="bare", pem=body)).name == "bare"
    for bad in ("not a certificate", ca.pem + ca.pem, make_leaf(make_ca("Other CA"), "leaf").pem):
        with pytest.raises(InvalidInput):
            await certificates.create(ADMIN, "t1", name="bad", pem=bad)
