"""Time functions (now_timestamp, format_date, date_to_unix_ts, ...)."""

from __future__ import annotations

import datetime as dt
import re
import time

from ..errors import RuleRuntimeError
from .arguments import _bounded, _int, _text
from .registry import _register

# ----------------------------------------------------------------------------------------------- time

_UNITS = {"second": 1, "millisecond": 1_000, "microsecond": 1_000_000, "nanosecond": 1_000_000_000}


def _unit(value: object) -> int:
    name = _text(value, "unit")
    per_second = _UNITS.get(name)
    if per_second is None:
        raise RuleRuntimeError(f"unknown time unit {name!r}: second, millisecond, microsecond, nanosecond")
    return per_second


def _now_ns() -> int:
    return time.time_ns()


@_register("now_timestamp", 0, 1)
def _now_timestamp(unit: object = "second") -> int:
    return _now_ns() * _unit(unit) // 1_000_000_000


def _offset(value: object) -> dt.timezone:
    """`Z`, `local`, `+08:00`, `-0130` or seconds east of UTC."""
    if type(value) is int:
        return dt.timezone(dt.timedelta(seconds=value))
    text = _text(value, "offset")
    if text in ("Z", "z", "utc", "UTC"):
        return dt.UTC
    if text == "local":
        local = dt.datetime.now().astimezone().tzinfo
        assert isinstance(local, dt.timezone)
        return local
    match = re.fullmatch(r"([+-])(\d{2}):?(\d{2})", text)
    if match is None:
        raise RuleRuntimeError(f"invalid time offset {text!r}")
    sign = 1 if match.group(1) == "+" else -1
    minutes = int(match.group(2)) * 60 + int(match.group(3))
    if minutes >= 24 * 60:
        raise RuleRuntimeError(f"invalid time offset {text!r}")
    return dt.timezone(sign * dt.timedelta(minutes=minutes))


def _datetime(ts: int, per_second: int, tz: dt.tzinfo) -> tuple[dt.datetime, int]:
    """The moment of a timestamp in its unit, and the nanoseconds within its second."""
    seconds, fraction = divmod(ts, per_second)
    try:
        moment = dt.datetime.fromtimestamp(seconds, tz)
    except (OverflowError, OSError, ValueError) as exc:
        raise RuleRuntimeError(f"timestamp out of range: {ts}") from exc
    return moment, fraction * (1_000_000_000 // per_second)


def _rfc3339(moment: dt.datetime, nanos: int, per_second: int) -> str:
    text = moment.strftime("%Y-%m-%dT%H:%M:%S")
    if per_second > 1:
        digits = len(str(per_second)) - 1
        text += "." + str(nanos).zfill(9)[:digits]
    offset = moment.strftime("%z")
    return text + offset[:3] + ":" + offset[3:]


@_register("now_rfc3339", 0, 1)
def _now_rfc3339(unit: object = "second") -> str:
    per_second = _unit(unit)
    moment, nanos = _datetime(_now_ns() * per_second // 1_000_000_000, per_second, _offset("local"))
    return _rfc3339(moment, nanos, per_second)


@_register("unix_ts_to_rfc3339", 1, 2)
def _unix_ts_to_rfc3339(ts: object, unit: object = "second") -> str:
    per_second = _unit(unit)
    moment, nanos = _datetime(_int(ts, "timestamp"), per_second, _offset("local"))
    return _rfc3339(moment, nanos, per_second)


@_register("rfc3339_to_unix_ts", 1, 2)
def _rfc3339_to_unix_ts(text: object, unit: object = "second") -> int:
    per_second = _unit(unit)
    value = _text(text)
    try:
        moment = dt.datetime.fromisoformat(value.replace("z", "Z"))
    except ValueError as exc:
        raise RuleRuntimeError(f"not an RFC 3339 time: {value!r}") from exc
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=_offset("local"))
    return _timestamp(moment, per_second)


def _timestamp(moment: dt.datetime, per_second: int) -> int:
    epoch = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
    delta = moment - epoch
    micros = (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds
    return micros * per_second // 1_000_000


_DATE_DIRECTIVE = re.compile(r"%(\d?N|:{0,2}z|[YmdHMSs%])")


@_register("format_date", 3, 4)
def _format_date(unit: object, offset: object, fmt: object, ts: object = None) -> str:
    """`format_date(unit, offset, format[, timestamp])`: %Y %m %d %H %M %S, %N (nanoseconds), %3N (three
    digits), %z (+hhmm), %:z (+hh:mm), %::z (+hh:mm:ss), %s (seconds since the epoch); the timestamp defaults
    to now."""
    per_second = _unit(unit)
    tz = _offset(offset)
    stamp = _now_ns() * per_second // 1_000_000_000 if ts is None else _int(ts, "timestamp")
    moment, nanos = _datetime(stamp, per_second, tz)

    def directive(match: re.Match[str]) -> str:
        d = match.group(1)
        if d.endswith("N"):
            digits = int(d[:-1]) if len(d) > 1 else 9
            return str(nanos).zfill(9)[:digits]
        if d.endswith("z"):
            total = int(moment.utcoffset().total_seconds())  # type: ignore[union-attr]
            sign = "+" if total >= 0 else "-"
            h, rest = divmod(abs(total), 3600)
            m, s = divmod(rest, 60)
            if d == "z":
                return f"{sign}{h:02}{m:02}"
            if d == ":z":
                return f"{sign}{h:02}:{m:02}"
            return f"{sign}{h:02}:{m:02}:{s:02}"
        if d == "s":
            return str(stamp // per_second)
        if d == "%":
            return "%"
        return moment.strftime("%" + d)

    return _bounded(_DATE_DIRECTIVE.sub(directive, _text(fmt, "format")))


_PARSE_FIELDS = {"Y": r"(?P<Y>\d{4})", "m": r"(?P<m>\d{1,2})", "d": r"(?P<d>\d{1,2})",
                 "H": r"(?P<H>\d{1,2})", "M": r"(?P<M>\d{1,2})", "S": r"(?P<S>\d{1,2})",
                 "N": r"(?P<N>\d{1,9})", "z": r"(?P<z>[+-]\d{2}:?\d{2}(?::?\d{2})?|Z)"}  # fmt: skip


@_register("date_to_unix_ts", 3, 4)
def _date_to_unix_ts(unit: object, a: object, b: object, c: object = None) -> int:
    """`date_to_unix_ts(unit, [offset,] format, date)`: the inverse of format_date."""
    per_second = _unit(unit)
    if c is None:
        tz: dt.tzinfo = dt.UTC
        fmt, text = _text(a, "format"), _text(b, "date")
    else:
        tz = _offset(a)
        fmt, text = _text(b, "format"), _text(c, "date")
    pattern: list[str] = []
    i = 0
    while i < len(fmt):
        match = re.match(r"%(\d?N|:{0,2}z|[YmdHMS%])", fmt[i:])
        if match is None:
            pattern.append(re.escape(fmt[i]))
            i += 1
            continue
        d = match.group(1)
        if d == "%":
            pattern.append("%")
        else:
            name = "N" if d.endswith("N") else "z" if d.endswith("z") else d
            if f"(?P<{name}>" in "".join(pattern):
                raise RuleRuntimeError(f"date_to_unix_ts: %{d} twice in the format")
            pattern.append(_PARSE_FIELDS[name])
        i += match.end()
    found = re.fullmatch("".join(pattern), _text(text))
    if found is None:
        raise RuleRuntimeError(f"date {text!r} does not match the format {fmt!r}")
    parts = found.groupdict()
    if parts.get("z"):
        zone = parts["z"]
        tz = dt.UTC if zone == "Z" else _offset(zone[:6] if ":" in zone else zone[:5])
    try:
        moment = dt.datetime(
            int(parts.get("Y") or 1970),
            int(parts.get("m") or 1),
            int(parts.get("d") or 1),
            int(parts.get("H") or 0),
            int(parts.get("M") or 0),
            int(parts.get("S") or 0),
            tzinfo=tz,
        )
    except ValueError as exc:
        raise RuleRuntimeError(f"date_to_unix_ts: {exc}") from exc
    nanos = int((parts.get("N") or "0").ljust(9, "0"))
    return _timestamp(moment, per_second) + nanos * per_second // 1_000_000_000


@_register("timezone_to_offset_seconds", 1)
def _timezone_to_offset_seconds(tz: object) -> int:
    offset = _offset(tz).utcoffset(None)
    return int(offset.total_seconds())
