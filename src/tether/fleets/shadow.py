"""The device shadow as AWS IoT defines it, which EMQX Fleets mirrors under `$emqx/things/<name>/shadow`:
pure functions over JSON values, no I/O (docs/protocols.md section 10).

A shadow document is `{"state": {"desired", "reported"}, "metadata": {...}, "version", "timestamp"}`. An
update request `{"state": {"desired"?, "reported"?}, "clientToken"?, "version"?}` is checked
(:func:`parse_update`), merged (:func:`apply_update`) and answered with the documents AWS publishes: the
accepted answer (only what the request sent, with its metadata), the delta and the previous/current pair of
`update/documents`.

Rules (AWS IoT developer guide, device-shadow-document and device-shadow-data-flow):

* every accepted update increments `version` by one; a request carrying `version` must name the current one,
  else 409 "Version conflict";
* `null` removes an attribute, `"desired": null` the whole section; an object merges into the stored one, key
  by key, and any other value (arrays included) replaces what was there; an object left empty by removals
  is removed too;
* every attribute written gets metadata `{"timestamp": <epoch seconds>}` at the same place in `metadata`
  (arrays: one entry per element);
* the delta is every desired attribute absent from or different to reported; nested objects are compared
  key by key, so a nested difference keeps its path;
* `clientToken` is echoed (at most 64 bytes), the state may nest at most 6 levels.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Final

from tether.core.errors import Conflict, InvalidInput, NotFound

Json = dict[str, Any]
SECTIONS: Final = ("desired", "reported")
MAX_DEPTH: Final = 6
MAX_CLIENT_TOKEN: Final = 64  # bytes (UTF-8)
R = "fleets"


class ShadowRejected(InvalidInput):
    """A malformed request: answered 400 with AWS's message on `.../rejected` and over HTTP."""


class VersionConflict(Conflict):
    """The request's `version` is not the shadow's (AWS: 409 "Version conflict")."""


class NoShadow(NotFound):
    """The thing has no shadow document (AWS: 404 "No shadow exists with name: '<thing>'")."""


def no_shadow(thing_name: str) -> NoShadow:
    return NoShadow(f"No shadow exists with name: '{thing_name}'", resource=R)


@dataclass(frozen=True, slots=True)
class UpdateRequest:
    """A checked update: each section absent (not in `state`), None (remove it) or an object."""

    state: Json
    client_token: str | None = None
    version: int | None = None

    @property
    def desired_given(self) -> bool:
        return "desired" in self.state


@dataclass(frozen=True, slots=True)
class Shadow:
    """A stored shadow. `present` False: deleted (or never written); its version carries on (AWS keeps the
    version of a deleted shadow for the next one)."""

    state: Json = field(default_factory=dict)  # {"desired"?: {...}, "reported"?: {...}}
    metadata: Json = field(default_factory=dict)  # the same shape, a {"timestamp"} per attribute
    version: int = 0
    timestamp: int = 0  # epoch seconds of the last change
    present: bool = False


@dataclass(frozen=True, slots=True)
class Updated:
    """The outcome of an accepted update: the new shadow and what to answer and publish."""

    previous: Shadow
    current: Shadow
    accepted: Json  # update/accepted
    documents: Json  # update/documents
    delta: Json | None  # update/delta, when the request's desired differs from reported


# -- checking requests ---------------------------------------------------------------------------------


def _depth(value: Any) -> int:
    if isinstance(value, dict):
        return 1 + max((_depth(v) for v in value.values()), default=0)
    if isinstance(value, list):
        return max((_depth(v) for v in value), default=0)
    return 0


def client_token(document: Any) -> str | None:
    """The request's clientToken if it is a valid one (for echoing it even in a rejection)."""
    if isinstance(document, dict):
        token = document.get("clientToken")
        if isinstance(token, str) and len(token.encode()) <= MAX_CLIENT_TOKEN:
            return token
    return None


def parse_token(document: Json) -> str | None:
    token = document.get("clientToken")
    if token is None:
        return None
    if not isinstance(token, str) or len(token.encode()) > MAX_CLIENT_TOKEN:
        raise ShadowRejected("Invalid clientToken", resource=R)
    return token


def parse_version(document: Json, *, zero_means_none: bool = False) -> int | None:
    version = document.get("version")
    if version is None:
        return None
    if isinstance(version, bool) or not isinstance(version, int) or version < 0 or version >= 2**63:
        raise ShadowRejected("Invalid version", resource=R)
    return None if zero_means_none and version == 0 else version


def parse_update(document: Any, *, zero_version_means_none: bool = False) -> UpdateRequest:
    """Check an update request as AWS does; raises :class:`ShadowRejected` with its message.
    `zero_version_means_none`: the ThingDatas API's `version: 0` means "no check"."""
    if not isinstance(document, dict):
        raise ShadowRejected("Invalid JSON", resource=R)
    token = parse_token(document)
    version = parse_version(document, zero_means_none=zero_version_means_none)
    if "state" not in document:
        raise ShadowRejected("Missing required node: state", resource=R)
    state = document["state"]
    if not isinstance(state, dict):
        raise ShadowRejected("State node must be an object", resource=R)
    for key, value in state.items():
        if key not in SECTIONS:
            raise ShadowRejected("State contains an invalid node", resource=R)
        if value is not None and not isinstance(value, dict):
            raise ShadowRejected(f"{key.capitalize()} node must be an object", resource=R)
        if value is not None and _depth(value) > MAX_DEPTH:
            raise ShadowRejected(
                f"JSON contains too many levels of nesting; maximum is {MAX_DEPTH}", resource=R
            )
    return UpdateRequest(state=dict(state), client_token=token, version=version)


# -- merging -------------------------------------------------------------------------------------------


def stamp(value: Any, timestamp: int) -> Any:
    """The metadata of a value written at `timestamp`: the same shape, a `{"timestamp"}` per leaf."""
    if isinstance(value, dict):
        return {k: stamp(v, timestamp) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [stamp(v, timestamp) for v in value]
    return {"timestamp": timestamp}


def _merge(stored: Json, stored_meta: Json, change: Json, timestamp: int) -> tuple[Json, Json]:
    """`change` merged into `stored` (and its metadata): null removes, objects merge, the rest replaces."""
    state = dict(stored)
    meta = dict(stored_meta)
    for key, value in change.items():
        if value is None:
            state.pop(key, None)
            meta.pop(key, None)
        elif isinstance(value, dict) and isinstance(state.get(key), dict):
            old_meta = meta.get(key)
            merged, merged_meta = _merge(
                state[key], old_meta if isinstance(old_meta, dict) else {}, value, timestamp
            )
            if merged or not value:
                state[key], meta[key] = merged, merged_meta
            else:  # emptied by removals
                state.pop(key, None)
                meta.pop(key, None)
        elif isinstance(value, dict):
            cleaned = _without_nulls(value)
            if cleaned or not value:
                state[key], meta[key] = cleaned, stamp(cleaned, timestamp)
            else:
                state.pop(key, None)
                meta.pop(key, None)
        else:
            state[key], meta[key] = value, stamp(value, timestamp)
    return state, meta


def _without_nulls(value: Json) -> Json:
    """An object written where none was: its nulls remove nothing, so they are dropped (and objects left
    empty by that, unless they were empty to begin with)."""
    out: Json = {}
    for key, item in value.items():
        if item is None:
            continue
        if isinstance(item, dict):
            cleaned = _without_nulls(item)
            if cleaned or not item:
                out[key] = cleaned
        else:
            out[key] = item
    return out


def delta(desired: Json, reported: Json) -> Json:
    """Every desired attribute absent from or different to reported; nested objects key by key."""
    out: Json = {}
    for key, want in desired.items():
        if key not in reported:
            out[key] = want
            continue
        have = reported[key]
        if isinstance(want, dict) and isinstance(have, dict):
            nested = delta(want, have)
            if nested:
                out[key] = nested
        elif want != have or type(want) is not type(have):
            out[key] = want
    return out


def _pick(tree: Any, shape: Json) -> Any:
    """The part of `tree` (metadata) at the paths of `shape` (a delta)."""
    if not isinstance(tree, dict):
        return tree
    out: Json = {}
    for key, value in shape.items():
        if key in tree:
            out[key] = _pick(tree[key], value) if isinstance(value, dict) else tree[key]
    return out


def _restrict(full: Json, request: Json) -> Json:
    """The part of a delta at the paths a request's desired section wrote."""
    out: Json = {}
    for key, value in full.items():
        if key not in request:
            continue
        asked = request[key]
        if isinstance(value, dict) and isinstance(asked, dict):
            nested = _restrict(value, asked)
            if nested:
                out[key] = nested
        else:
            out[key] = value
    return out


def _section(shadow: Shadow, name: str) -> Json:
    value = shadow.state.get(name)
    return value if isinstance(value, dict) else {}


def apply_update(shadow: Shadow, request: UpdateRequest, timestamp: int) -> Updated:
    """Merge a checked request into the shadow; raises :class:`VersionConflict`."""
    if request.version is not None and request.version != shadow.version:
        raise VersionConflict("Version conflict", resource=R)
    state: Json = dict(shadow.state) if shadow.present else {}
    metadata: Json = dict(shadow.metadata) if shadow.present else {}
    accepted_state: Json = {}
    accepted_meta: Json = {}
    for name in SECTIONS:
        if name not in request.state:
            continue
        change = request.state[name]
        accepted_state[name] = change
        if change is None:
            state.pop(name, None)
            metadata.pop(name, None)
            continue
        accepted_meta[name] = stamp(change, timestamp)
        old_meta = metadata.get(name)
        merged, merged_meta = _merge(
            _section(shadow, name) if shadow.present else {},
            old_meta if isinstance(old_meta, dict) else {},
            change,
            timestamp,
        )
        if merged:
            state[name], metadata[name] = merged, merged_meta
        else:
            state.pop(name, None)
            metadata.pop(name, None)
    current = Shadow(state, metadata, shadow.version + 1, timestamp, True)
    accepted: Json = {"state": accepted_state, "metadata": accepted_meta}
    accepted.update(version=current.version, timestamp=timestamp)
    _token(accepted, request.client_token)
    documents: Json = {
        "previous": _snapshot(shadow) if shadow.present else None,
        "current": _snapshot(current),
        "timestamp": timestamp,
    }
    _token(documents, request.client_token)
    change_delta = None
    desired = request.state.get("desired")
    if isinstance(desired, dict) and desired:
        full = delta(_section(current, "desired"), _section(current, "reported"))
        wanted = _restrict(full, desired)
        if wanted:
            change_delta = {
                "state": wanted,
                "metadata": _pick(metadata.get("desired", {}), wanted),
                "version": current.version,
                "timestamp": timestamp,
            }
            _token(change_delta, request.client_token)
    return Updated(shadow, current, accepted, documents, change_delta)


def _snapshot(shadow: Shadow) -> Json:
    return {"state": shadow.state, "metadata": shadow.metadata, "version": shadow.version}


def _token(document: Json, token: str | None) -> None:
    if token is not None:
        document["clientToken"] = token


# -- reading and deleting ------------------------------------------------------------------------------


def document(shadow: Shadow, thing_name: str, token: str | None = None) -> Json:
    """The answer of `get`: the whole state with `state.delta` (and its metadata) when desired differs
    from reported; NoShadow when there is none."""
    if not shadow.present:
        raise no_shadow(thing_name)
    state = dict(shadow.state)
    metadata = dict(shadow.metadata)
    difference = delta(_section(shadow, "desired"), _section(shadow, "reported"))
    if difference:
        state["delta"] = difference
    out: Json = {"state": state, "metadata": metadata, "version": shadow.version}
    out["timestamp"] = shadow.timestamp
    _token(out, token)
    return out


def deleted(shadow: Shadow, thing_name: str, version: int | None, timestamp: int) -> Shadow:
    """The shadow after a delete: gone, its version kept for the next one. NoShadow when there is none,
    VersionConflict when `version` is given and not the current one."""
    if not shadow.present:
        raise no_shadow(thing_name)
    if version is not None and version != shadow.version:
        raise VersionConflict("Version conflict", resource=R)
    return Shadow(version=shadow.version, timestamp=timestamp, present=False)


def error(code: int, message: str, timestamp: int, token: str | None) -> Json:
    """AWS's error document of `.../rejected` topics."""
    out: Json = {"code": code, "message": message, "timestamp": timestamp}
    _token(out, token)
    return out
