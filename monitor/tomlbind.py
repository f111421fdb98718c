"""TOML tables bound to typed, frozen records: the mechanism under ``monitor.config``.

A record's type hints say what each key accepts; ``bounded`` and ``checked`` fields add a range or
a rule; ``build`` turns a parsed TOML table into the record, or raises a ``ConfigError`` naming the
key, what it accepts and what it got. Nothing here knows the monitor's own keys.
"""

from __future__ import annotations

import math
import re
import types
import typing
from collections.abc import Callable, Iterator, Mapping
from dataclasses import MISSING, dataclass, field, fields, is_dataclass
from datetime import date, datetime, time
from typing import Any, Generic, Literal, TypeVar

from monitor.errors import ConfigError
from monitor.extract.text import VN_TZ, parse_iso

K = TypeVar("K")
V = TypeVar("V")


class FrozenMap(Mapping[K, V], Generic[K, V]):
    """An immutable, hashable mapping, for tables inside frozen config records.

    Order is the file's order; equality and hash follow the pairs, so two configs read from
    the same file are equal and can key a cache.
    """

    __slots__ = ("_data", "_hash")

    def __init__(self, pairs: Mapping[K, V] | typing.Iterable[tuple[K, V]] = ()) -> None:
        self._data: dict[K, V] = dict(pairs)
        self._hash: int | None = None

    def __getitem__(self, key: K) -> V:
        return self._data[key]

    def __iter__(self) -> Iterator[K]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def __hash__(self) -> int:
        if self._hash is None:
            self._hash = hash(tuple(self._data.items()))
        return self._hash

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Mapping) and dict(self._data) == dict(other)

    def __repr__(self) -> str:
        return f"FrozenMap({self._data!r})"


# --- declarative bounds: each key states what it accepts, next to its default ------------------


@dataclass(frozen=True, slots=True)
class Bounds:
    """Accepted range of a number (or of each number in a list or table); floats are finite."""

    min: float | None = None     # inclusive
    max: float | None = None     # inclusive
    above: float | None = None   # exclusive lower bound ("above 0")

    def accepts(self, value: float) -> bool:
        return ((self.min is None or value >= self.min)
                and (self.max is None or value <= self.max)
                and (self.above is None or value > self.above))

    def describe(self) -> str:
        def n(v: float) -> str:
            return str(int(v)) if float(v).is_integer() else f"{v:g}"

        if self.min is not None and self.max is not None:
            return f"from {n(self.min)} to {n(self.max)}"
        low = (f"above {n(self.above)}" if self.above is not None
               else f"at least {n(self.min)}" if self.min is not None else "")
        high = f"at most {n(self.max)}" if self.max is not None else ""
        return " and ".join(p for p in (low, high) if p) or "any finite value"


Check = Callable[[Any], str | None]  # returns what is wrong, or None


def bounded(default: Any, *, min: float | None = None, max: float | None = None,
            above: float | None = None) -> Any:
    """A numeric field with its accepted range: ``port: int = bounded(587, min=1, max=65535)``."""
    return field(default=default, metadata={"bounds": Bounds(min, max, above)})


def checked(default: Any = MISSING, *, check: Check) -> Any:
    """A field with a check run at load (URLs, paths, ...): ``check(value)`` says what is wrong,
    or returns None; ``url: str = checked(check=_http_url)``."""
    return field(default=default, metadata={"check": check})


def bounds_of(cls: Any) -> dict[str, Bounds]:
    """Every bounded key of a config record, by name (for documentation and tests)."""
    return {f.name: f.metadata["bounds"] for f in fields(cls) if "bounds" in f.metadata}


def _where(path: str, key: str) -> str:
    if not path:
        return f"[{key}]" if key else ""
    return f"{path} {key}"


def _optional(tp: Any) -> Any:
    """``X`` of ``X | None``, else None."""
    if typing.get_origin(tp) in (types.UnionType, typing.Union):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        if len(args) == 1:
            return args[0]
    return None


def _describe(tp: Any) -> str:
    origin = typing.get_origin(tp)
    if tp is str:
        return "a string"
    if tp is bool:
        return "true or false"
    if tp is int:
        return "a whole number"
    if tp is float:
        return "a number"
    if tp is time:
        return "a time 'HH:MM'"
    if tp is datetime:
        return "an ISO 8601 time like '2025-12-01T00:00:00+07:00'"
    if origin is Literal:
        return "one of " + ", ".join(repr(a) for a in typing.get_args(tp))
    if origin is tuple:
        return "a list of " + _describe(typing.get_args(tp)[0]).removeprefix("a ") + "s"
    if origin in (dict, FrozenMap):
        return "a table of " + _describe(typing.get_args(tp)[1]).removeprefix("a ") + "s"
    if is_dataclass(tp):
        return "a table"
    if (inner := _optional(tp)) is not None:
        return _describe(inner)
    return str(tp)


_HH_MM = re.compile(r"([01]?[0-9]|2[0-3]):([0-5][0-9])", re.ASCII)


def _number(value: Any, bounds: Bounds | None, where: str, name: str, what: str) -> None:
    if isinstance(value, float) and not math.isfinite(value):
        raise ConfigError(f"{name}: {where}: expected a finite number, got {value!r}")
    if bounds is not None and not bounds.accepts(value):
        raise ConfigError(f"{name}: {where}: expected {what} {bounds.describe()}, got {value!r}")


def _convert(tp: Any, value: Any, where: str, name: str, bounds: Bounds | None = None) -> Any:
    origin = typing.get_origin(tp)
    bad = ConfigError(f"{name}: {where}: expected {_describe(tp)}, got {_short(value)}")
    if tp is bool:
        if not isinstance(value, bool):
            raise bad
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise bad
        _number(value, bounds, where, name, "a whole number")
        return value
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise bad
        _number(value, bounds, where, name, "a number")
        return float(value)
    if tp is str:
        if not isinstance(value, str):
            raise bad
        if "\0" in value:
            raise ConfigError(f"{name}: {where}: must not contain a NUL character")
        return value
    if tp is time:
        if isinstance(value, time):  # a TOML local time: 07:00:00
            return value.replace(second=0, microsecond=0)
        if not isinstance(value, str) or not (m := _HH_MM.fullmatch(value.strip())):
            raise bad
        return time(int(m.group(1)), int(m.group(2)))
    if tp is datetime:
        if isinstance(value, datetime):  # a TOML date-time; without offset: Vietnam time
            return value if value.tzinfo else value.replace(tzinfo=VN_TZ)
        if isinstance(value, date):
            return datetime.combine(value, time(0), VN_TZ)
        parsed = parse_iso(value) if isinstance(value, str) else None
        if parsed is None:
            raise bad
        return parsed
    if (inner := _optional(tp)) is not None:
        # An empty string is how TOML, which has no null, leaves an optional key unset.
        return None if value == "" else _convert(inner, value, where, name, bounds)
    if origin is Literal:
        if value not in typing.get_args(tp):
            raise bad
        return value
    if origin is tuple:
        if not isinstance(value, list):
            raise bad
        item = typing.get_args(tp)[0]
        if is_dataclass(item):  # an array of tables: "[[subscribers]] #2", as people count
            # (one nested in another keeps its path: "[[topics]] #1 near #2")
            table = f"[[{where.strip('[]')}]]" if " " not in where else where
            return tuple(_convert(item, v, f"{table} #{i + 1}", name)
                         for i, v in enumerate(value))
        return tuple(_convert(item, v, f"{where}[{i}]", name, bounds)
                     for i, v in enumerate(value))
    if origin in (dict, FrozenMap):
        if not isinstance(value, dict):
            raise bad
        item = typing.get_args(tp)[1]
        return FrozenMap((str(k), _convert(item, v, f"{where}.{k}", name, bounds))
                         for k, v in value.items())
    if is_dataclass(tp):
        if not isinstance(value, dict):
            raise bad
        # A table inside a table is named as TOML writes it: "[mail] smtp" -> "[mail.smtp]".
        return build(tp, value, re.sub(r"^\[([^\]]+)\] (\w+)$", r"[\1.\2]", where), name)
    raise bad


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def build(cls: Any, table: dict[str, Any], where: str, name: str) -> Any:
    hints = typing.get_type_hints(cls)
    known = {f.name: f for f in fields(cls) if f.name != "root"}
    unknown = sorted(set(table) - set(known))
    if unknown:
        raise ConfigError(
            f"{name}: {_where(where, unknown[0])}: unknown key; accepted: {', '.join(known)}"
        )
    kwargs: dict[str, Any] = {}
    for key, f in known.items():
        if key in table:
            here = _where(where, key)
            value = _convert(hints[key], table[key], here, name, f.metadata.get("bounds"))
            check: Check | None = f.metadata.get("check")
            if check is not None and (problem := check(value)):
                raise ConfigError(f"{name}: {here}: {problem}")
            kwargs[key] = value
        elif f.default is MISSING and f.default_factory is MISSING:
            raise ConfigError(f"{name}: {_where(where, key)}: missing; it is required "
                              f"(add `{key} = ...` to that table)")
    return cls(**kwargs)
