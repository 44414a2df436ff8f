"""The pure shadow rules (tether.fleets.shadow) against AWS IoT's documented behaviour: examples from the
developer guide and properties over generated documents (hypothesis)."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tether.fleets import shadow
from tether.fleets.shadow import Shadow, ShadowRejected, VersionConflict

T = 1_700_000_000

keys = st.text(alphabet="abcdef", min_size=1, max_size=3)
scalars = st.one_of(st.integers(-5, 5), st.booleans(), st.text(alphabet="xyz", max_size=2))
values = st.recursive(
    scalars | st.lists(scalars, max_size=3),
    lambda inner: st.dictionaries(keys, inner, min_size=1, max_size=3),
    max_leaves=8,
)
sections = st.dictionaries(keys, values, max_size=4)
changes = st.dictionaries(keys, st.none() | values, max_size=4)


def _depth_ok(value: Any, depth: int = 0) -> bool:
    if isinstance(value, dict):
        return depth < shadow.MAX_DEPTH and all(_depth_ok(v, depth + 1) for v in value.values())
    return True


def _apply(current: Shadow, **state: Any) -> shadow.Updated:
    return shadow.apply_update(current, shadow.parse_update({"state": state}), T)


def _leaves(value: Any, path: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], Any]]:
    if isinstance(value, dict) and value:
        return [leaf for key, item in value.items() for leaf in _leaves(item, (*path, key))]
    return [(path, value)]


def _at(value: Any, path: tuple[str, ...]) -> Any:
    for key in path:
        value = value[key]
    return value


def _same_shape(state: Any, metadata: Any) -> bool:
    """Metadata has an entry for every attribute of the state, and nothing else."""
    if isinstance(state, dict) and state:
        return (
            isinstance(metadata, dict)
            and set(state) == set(metadata)
            and all(_same_shape(state[k], metadata[k]) for k in state)
        )
    if isinstance(state, list):
        return isinstance(metadata, list) and len(state) == len(metadata)
    return metadata == {"timestamp": T} or state == {}


# -- examples of the AWS IoT developer guide -------------------------------------------------------------


def test_the_guide_example_of_a_delta() -> None:
    current = _apply(Shadow(), reported={"color": "GREEN", "engine": "ON"}).current
    updated = _apply(current, desired={"color": "RED", "state": "STOP"})
    document = shadow.document(updated.current, "thing")
    assert document["state"]["delta"] == {"color": "RED", "state": "STOP"}
    assert document["version"] == 2 and document["metadata"]["desired"]["color"] == {"timestamp": T}
    assert updated.delta == {
        "state": {"color": "RED", "state": "STOP"},
        "metadata": {"color": {"timestamp": T}, "state": {"timestamp": T}},
        "version": 2,
        "timestamp": T,
    }


def test_nested_delta_keeps_the_path_and_arrays_are_values() -> None:
    current = _apply(Shadow(), reported={"lights": {"a": 1, "b": 2}, "list": [1, 2]}).current
    updated = _apply(current, desired={"lights": {"a": 1, "b": 3}, "list": [1, 2, 3]})
    assert updated.delta is not None
    assert updated.delta["state"] == {"lights": {"b": 3}, "list": [1, 2, 3]}
    assert updated.delta["metadata"] == {"lights": {"b": {"timestamp": T}}, "list": [{"timestamp": T}] * 3}


def test_a_delta_is_about_the_request_only_and_absent_when_equal() -> None:
    current = _apply(Shadow(), desired={"x": 1}).current  # x differs from reported (absent)
    assert _apply(current, desired={"y": 2}).delta == {
        "state": {"y": 2},
        "metadata": {"y": {"timestamp": T}},
        "version": 2,
        "timestamp": T,
    }
    agreed = _apply(_apply(Shadow(), reported={"y": 2}).current, desired={"y": 2})
    assert agreed.delta is None
    assert _apply(current, reported={"x": 5}).delta is None  # reported changes publish no delta


def test_null_removes_attributes_sections_and_emptied_objects() -> None:
    current = _apply(Shadow(), desired={"a": {"b": 1}, "c": 2}, reported={"r": 1}).current
    after = _apply(current, desired={"a": {"b": None}}).current
    assert after.state == {"desired": {"c": 2}, "reported": {"r": 1}}
    assert after.metadata == {"desired": {"c": {"timestamp": T}}, "reported": {"r": {"timestamp": T}}}
    gone = _apply(after, desired=None).current
    assert gone.state == {"reported": {"r": 1}} and "desired" not in gone.metadata
    assert _apply(gone, reported={"r": None}).current.state == {}


def test_accepted_and_documents() -> None:
    request = shadow.parse_update({"state": {"reported": {"a": 1}}, "clientToken": "tok"})
    first = shadow.apply_update(Shadow(), request, T)
    assert first.accepted == {
        "state": {"reported": {"a": 1}},
        "metadata": {"reported": {"a": {"timestamp": T}}},
        "version": 1,
        "timestamp": T,
        "clientToken": "tok",
    }
    assert first.documents == {
        "previous": None,
        "current": {
            "state": {"reported": {"a": 1}},
            "metadata": {"reported": {"a": {"timestamp": T}}},
            "version": 1,
        },
        "timestamp": T,
        "clientToken": "tok",
    }
    second = shadow.apply_update(first.current, request, T + 1)
    assert second.documents["previous"] == first.documents["current"]


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ("text", "Invalid JSON"),
        ({}, "Missing required node: state"),
        ({"state": None}, "State node must be an object"),
        ({"state": {"desired": "x"}}, "Desired node must be an object"),
        ({"state": {"reported": 1}}, "Reported node must be an object"),
        ({"state": {"other": {}}}, "State contains an invalid node"),
        ({"state": {}, "version": True}, "Invalid version"),
        ({"state": {}, "version": 1.5}, "Invalid version"),
        ({"state": {}, "clientToken": 7}, "Invalid clientToken"),
        ({"state": {}, "clientToken": "é" * 33}, "Invalid clientToken"),  # 66 bytes
        ({"state": {"desired": {"1": {"2": {"3": {"4": {"5": {"6": {"7": 0}}}}}}}}}, "maximum is 6"),
    ],
)
def test_rejections(document: Any, message: str) -> None:
    with pytest.raises(ShadowRejected, match=message):
        shadow.parse_update(document)


def test_versions_and_thingdatas_zero() -> None:
    current = _apply(Shadow(), reported={"a": 1}).current
    with pytest.raises(VersionConflict):
        shadow.apply_update(current, shadow.parse_update({"state": {}, "version": 0}), T)
    unchecked = shadow.parse_update({"state": {}, "version": 0}, zero_version_means_none=True)
    assert shadow.apply_update(current, unchecked, T).current.version == 2
    assert (
        shadow.apply_update(current, shadow.parse_update({"state": {}, "version": 1}), T).current.version == 2
    )


# -- properties ---------------------------------------------------------------------------------------


@settings(max_examples=300)
@given(sections, sections, changes, changes)
def test_merge_properties(desired: Any, reported: Any, want: Any, report: Any) -> None:
    if not all(map(_depth_ok, (desired, reported, want, report))):
        return
    start = _apply(Shadow(), desired=desired, reported=reported).current
    assert start.version == 1
    updated = _apply(start, desired=want, reported=report)
    current = updated.current
    # Every accepted update adds one to the version.
    assert current.version == start.version + 1
    for name, change in (("desired", want), ("reported", report)):
        section = current.state.get(name, {})
        # A section is never stored empty, and metadata mirrors the state.
        assert section != {} or name not in current.state
        assert _same_shape(section, current.metadata.get(name, {}))
        for key, value in change.items():
            if value is None:
                assert key not in section  # null removes
            elif not isinstance(value, dict):
                assert section[key] == value  # scalars and arrays replace
            else:
                for path, leaf in _leaves(value):
                    if leaf is not None and path and leaf != {}:
                        assert _at(section[key], path) == leaf  # objects merge leaf by leaf
    # The delta: desired attributes absent from or different to reported, and nothing else.
    difference = shadow.delta(current.state.get("desired", {}), current.state.get("reported", {}))
    for path, leaf in _leaves(difference):
        if path:
            assert _at(current.state["desired"], path) == leaf
    document = shadow.document(current, "t")
    assert ("delta" in document["state"]) == bool(difference)
    if updated.delta is not None:
        assert set(updated.delta["state"]) <= set(want)


@given(sections)
def test_reporting_the_desired_state_clears_the_delta(desired: Any) -> None:
    if not _depth_ok(desired):
        return
    start = _apply(Shadow(), desired=desired).current
    assert shadow.delta(start.state.get("desired", {}), {}) == start.state.get("desired", {})
    converged = _apply(start, reported=start.state.get("desired", {})).current
    assert "delta" not in shadow.document(converged, "t")["state"]


@given(st.integers(0, 50), st.integers(0, 50))
def test_a_version_must_match(stored: int, asked: int) -> None:
    current = Shadow({}, {}, stored, T, True)
    request = shadow.parse_update({"state": {"reported": {"a": 1}}, "version": asked})
    if stored == asked:
        assert shadow.apply_update(current, request, T).current.version == stored + 1
    else:
        with pytest.raises(VersionConflict):
            shadow.apply_update(current, request, T)
