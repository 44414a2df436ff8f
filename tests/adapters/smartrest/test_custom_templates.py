"""SmartREST 2.0 custom templates: s/ut registration (s/dt 20/41), request templates (10) on s/uc, response
templates (11) on s/dc for GET requests and for operations (Cumulocity's smartrest-two examples)."""

from __future__ import annotations

from collections.abc import Callable

import httpx
from tests.mqtt_device import Device, unique

from tether.adapters.smartrest.csv import parse_rows

TEMPLATES = "\n".join(
    [
        "10,999,POST,MEASUREMENT,,c8y_MyMeasurement,,c8y_MyMeasurement.M.value,NUMBER,,c8y_MyMeasurement.M.unit,STRING,X",
        "10,998,POST,EVENT,,c8y_CustomEvent,mytext,,c8y_Extra.flag,FLAG,",
        "10,997,POST,ALARM,,c8y_CustomAlarm,mytext,ACTIVE,MAJOR,",
        "10,996,GET,INVENTORY,,true",
        "10,995,PUT,INVENTORY,,false,c8y_Serial,c8y_MyCustomValue,STRING,",
        "10,994,PUT,ALARM,,c8y_CustomAlarm,status,ALARMSTATUS,CLEARED,c8y_CustomFragment.reason,STRING,",
        "10,993,PUT,OPERATION,,c8y_MyOperation,status,OPERATIONSTATUS,SUCCESSFUL,c8y_MyOperation.val,NUMBER,",
        "11,888,,c8y_IsDevice,type,c8y_Test,c8y_Configuration",
        "11,111,c8y_CustomConfiguration,deviceId,val1,val2,customValues[*]",
        "11,222,,deviceId,c8y_CustomConfiguration.val1,c8y_CustomConfiguration.val2",
        "11,444,c8y_CustomConfiguration,c8y_CustomConfiguration.val3,val1",
    ]
)


def _mo(admin: httpx.Client, xid: str) -> str:
    return str(admin.get(f"/identity/externalIds/c8y_Serial/{xid}").json()["managedObject"]["id"])


def test_registration_requests_and_responses(connect: Callable[..., Device], admin: httpx.Client) -> None:
    xid = unique("tpl")
    device = connect(subscribe=("s/dt", "s/e", f"s/dc/{xid}"))
    serial = device.client_id
    # Does the collection exist? Not yet.
    device.publish(f"s/ut/{xid}", "")
    assert device.text("s/dt") == f"41,{xid}"
    device.publish(f"s/ut/{xid}", TEMPLATES)
    code, name, collection_id = device.text("s/dt").split(",")
    assert (code, name) == ("20", xid) and collection_id.isdigit()
    device.publish(f"s/ut/{xid}", "")
    assert device.text("s/dt") == f"20,{xid},{collection_id}"
    device.publish(f"s/ut/{xid}", TEMPLATES)  # cannot be changed over MQTT once created
    assert device.text("s/dt") == f"41,{xid}"

    device.publish("s/us", "100,Custom device,c8y_Test")
    mo_id = _mo(admin, serial)
    admin.put(f"/inventory/managedObjects/{mo_id}", json={"c8y_Configuration": "val1=1\nval2=2"})
    # Request templates: empty template fields come from the message, in order.
    device.publish(f"s/uc/{xid}", "999,2024-01-02T03:04:05.000Z,25\n999,,30.5")
    device.publish(f"s/uc/{xid}", "998,2024-01-02T03:04:05.000Z")
    device.publish(f"s/uc/{xid}", "997,2024-01-02T03:04:05.000Z")
    device.publish(f"s/uc/{xid}", "995," + serial + ",updated value")
    assert device.none_within(topic="s/e")
    measurements = admin.get("/measurement/measurements", params={"source": mo_id}).json()["measurements"]
    assert [m["c8y_MyMeasurement"]["M"] for m in measurements] == [
        {"value": 25, "unit": "X"},
        {"value": 30.5, "unit": "X"},
    ]
    assert measurements[0]["time"] == "2024-01-02T03:04:05.000Z"
    [event] = admin.get("/event/events", params={"source": mo_id}).json()["events"]
    assert (event["type"], event["text"], event["c8y_Extra"]) == ("c8y_CustomEvent", "mytext", {"flag": {}})
    [alarm] = admin.get("/alarm/alarms", params={"source": mo_id}).json()["alarms"]
    assert (alarm["severity"], alarm["status"]) == ("MAJOR", "ACTIVE")
    assert admin.get(f"/inventory/managedObjects/{mo_id}").json()["c8y_MyCustomValue"] == "updated value"
    device.publish(f"s/uc/{xid}", "994,Device resolved alarm on its own")
    cleared = admin.get(f"/alarm/alarms/{alarm['id']}").json()
    assert (cleared["status"], cleared["c8y_CustomFragment"]) == (
        "CLEARED",
        {"reason": "Device resolved alarm on its own"},
    )

    # GET with response templates: the answer on s/dc/<X-ID>.
    device.publish(f"s/uc/{xid}", f"996,{mo_id}")
    assert parse_rows(device.text(f"s/dc/{xid}")) == [["888", "c8y_Test", "", "val1=1\nval2=2"]]

    # Operations: every response template whose condition holds, with the device's external id.
    op = {
        "deviceId": mo_id,
        "c8y_CustomConfiguration": {"val1": "1", "val2": "2", "customValues": ["a", "b", "c"]},
        "description": "Send custom configuration",
    }
    admin.post("/devicecontrol/operations", json=op)
    lines = sorted(device.lines(f"s/dc/{xid}", 2))
    assert lines == [f"111,{serial},1,2,a,b,c", f"222,{serial},1,2"]
    assert device.none_within(topic=f"s/dc/{xid}")

    # PUT OPERATION: the oldest EXECUTING (else PENDING) operation with the fragment.
    created = admin.post("/devicecontrol/operations", json={"deviceId": mo_id, "c8y_MyOperation": {}}).json()
    device.publish(f"s/uc/{xid}", "993,24")
    done = admin.get(f"/devicecontrol/operations/{created['id']}").json()
    assert (done["status"], done["c8y_MyOperation"]) == ("SUCCESSFUL", {"val": 24})
    assert device.none_within(topic="s/e")


def test_custom_template_errors(connect: Callable[..., Device]) -> None:
    xid = unique("tpl")
    device = connect(subscribe=("s/dt", "s/e"))
    device.publish(f"s/ut/{xid}", "10,1,DELETE,MEASUREMENT,,t,")
    assert device.text("s/e") == "45,1,Unsupported method and API: DELETE MEASUREMENT"
    assert device.text("s/dt") == f"41,{xid}"
    device.publish(f"s/ut/{xid}", "10,1,POST,MEASUREMENT,,t,,a.b,WEIRD,")
    assert device.text("s/e") == "45,1,Unknown custom value type 'WEIRD'"
    assert device.text("s/dt") == f"41,{xid}"
    device.publish(f"s/ut/{xid}", "10,1,POST,MEASUREMENT,,t,,a.v,NUMBER,")
    assert device.text("s/dt").startswith(f"20,{xid},")
    device.publish(f"s/uc/{xid}", "2,1")
    assert device.text("s/e") == "40,2,No template for this message id"
    device.publish(f"s/uc/{xid}", "1,,not a number")
    assert device.text("s/e") == "45,1,'a.v' must be a number (got 'not a number')"
    device.publish(f"s/uc/{unique('missing')}", "1,2")
    assert device.text("s/e") == "40,1,No template for this message id"


def test_default_collection_from_the_client_id(connect: Callable[..., Device], admin: httpx.Client) -> None:
    """`d:<serial>:<X-ID>`: s/ud and s/dd use the ClientId's collection (smartrest-two default collection)."""
    xid = unique("tpl")
    setup = connect(subscribe=("s/dt",))
    setup.publish(f"s/ut/{xid}", "10,1,GET,INVENTORY,,true\n11,2,,c8y_IsDevice,name")
    assert setup.text("s/dt").startswith(f"20,{xid},")
    serial = unique("dflt")
    device = connect(serial, client_id=f"d:{serial}:{xid}", subscribe=("s/dd", "s/e"))
    device.publish("s/us", "100,Default collection device")
    mo_id = _mo(admin, serial)
    device.publish("s/ud", f"1,{mo_id}")
    assert device.text("s/dd") == "2,Default collection device"
    assert device.none_within(topic="s/e")
