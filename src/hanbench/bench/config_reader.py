"""Typed reads from a decoded TOML table, each error naming file, dotted key and line.

The bench file is written by hand in a lab, so a mistake must be reported the way a
compiler would: ``bench/lab.toml:31: devices[2].type: unknown device type 'esmee' (did you
mean 'esme'?)``. :class:`Table` wraps one decoded table together with where it sits in the
document; every getter checks type and range and raises :class:`BenchConfigError` at the
key's line. Unknown keys are rejected as soon as a table is opened, before any "missing
key" error, because a misspelt key is the usual cause of a missing one.
"""

from __future__ import annotations

import datetime as dt
import difflib
import enum
from collections.abc import Callable, Collection, Iterable
from pathlib import Path
from typing import Any, TypeVar

from hanbench.bench.bench_config import User
from hanbench.bench.toml_locator import KeyLines, KeyPath, dotted
from hanbench.errors import BadInput
from hanbench.gbcs.entity import EntityId
from hanbench.gbcs.roles import Role

_E = TypeVar("_E", bound=enum.Enum)
_T = TypeVar("_T")


class BenchConfigError(BadInput):
    """A bench file that cannot be used as written; the message says where and why."""

    def __init__(self, file: Path, key: str | None, line: int | None, problem: str) -> None:
        self.file = file
        self.key = key
        self.line = line
        self.problem = problem
        where = f"{file}:{line}" if line is not None else str(file)
        super().__init__(f"{where}: {key}: {problem}" if key else f"{where}: {problem}")


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """`` (did you mean 'x'?)`` for the closest choice (ignoring case), or nothing when none is close."""
    by_lower = {choice.lower(): choice for choice in choices}
    close = difflib.get_close_matches(word.lower(), list(by_lower), n=1, cutoff=0.6)
    return f" (did you mean {by_lower[close[0]]!r}?)" if close else ""


class Document:
    """A bench file's name and key positions: enough to build any error about it."""

    def __init__(self, file: Path, keys: KeyLines) -> None:
        self.file = file
        self.keys = keys

    def error(self, path: KeyPath, problem: str) -> BenchConfigError:
        return BenchConfigError(self.file, dotted(path) or None, self.keys.line(path), problem)


class _Missing(enum.Enum):
    MISSING = enum.auto()


REQUIRED = _Missing.MISSING
"""Pass as ``default`` to make a key required."""


class Table:
    """One decoded TOML table and its key path; getters validate and locate errors."""

    def __init__(self, doc: Document, path: KeyPath, data: Any, allowed: Collection[str]) -> None:
        if not isinstance(data, dict):
            raise doc.error(path, f"should be a table, got {_describe(data)}")
        self.doc = doc
        self.path = path
        self.data: dict[str, Any] = data
        for key in data:
            if key not in allowed:
                raise self.error(key, "unknown key" + did_you_mean(key, allowed)
                                 + f"; known keys here: {', '.join(allowed)}")

    def error(self, key: str | int | KeyPath, problem: str) -> BenchConfigError:
        """An error at ``key`` of this table (a tuple reaches deeper: ``("roles", 1)``)."""
        return self.doc.error(self.path + (key if isinstance(key, tuple) else (key,)), problem)

    def has(self, key: str) -> bool:
        return key in self.data

    def _get(self, key: str, check: Callable[[Any], bool], expected: str, default: Any) -> Any:
        if key not in self.data:
            if default is REQUIRED:
                raise self.error(key, "missing required key")
            return default
        value = self.data[key]
        if not check(value):
            raise self.error(key, f"should be {expected}, got {_describe(value)}")
        return value

    def string(self, key: str, default: str | None | _Missing = REQUIRED) -> Any:
        value = self._get(key, lambda v: isinstance(v, str), "a string", default)
        if isinstance(value, str) and not value.strip():
            raise self.error(key, "should not be empty")
        return value

    def boolean(self, key: str, default: bool | _Missing = REQUIRED) -> bool:
        return bool(self._get(key, lambda v: isinstance(v, bool), "a boolean", default))

    def integer(self, key: str, default: int | _Missing = REQUIRED, *,
                minimum: int | None = None, maximum: int | None = None) -> int:
        value: int = self._get(key, _is_int, "an integer", default)
        self._check_range(key, value, minimum, maximum, strictly_above=None)
        return value

    def number(self, key: str, default: float | _Missing = REQUIRED, *, minimum: float | None = None,
               maximum: float | None = None, above: float | None = None) -> float:
        """A float; integers are accepted (``loss = 0``). ``above`` is an exclusive minimum."""
        value = self._get(key, lambda v: _is_int(v) or isinstance(v, float), "a number", default)
        self._check_range(key, value, minimum, maximum, strictly_above=above)
        try:
            return float(value)
        except OverflowError:
            raise self.error(key, f"should be a number a float can hold, got {_shown(value)}") from None

    def _check_range(self, key: str, value: float, minimum: float | None, maximum: float | None,
                     strictly_above: float | None) -> None:
        if value != value:  # NaN compares unequal to everything, itself included
            raise self.error(key, "should be a number, got nan")
        low_ok = minimum is None or value >= minimum
        above_ok = strictly_above is None or value > strictly_above
        high_ok = maximum is None or value <= maximum
        if low_ok and above_ok and high_ok:
            return
        if strictly_above is not None:
            bounds = f"greater than {strictly_above}" + (f" and at most {maximum}" if maximum is not None else "")
        elif maximum is None:
            bounds = f"at least {minimum}"
        elif minimum is None:
            bounds = f"at most {maximum}"
        else:
            bounds = f"between {minimum} and {maximum}"
        raise self.error(key, f"should be {bounds}, got {_shown(value)}")

    def choice(self, key: str, kind: type[_E], default: _E | None | _Missing = REQUIRED, *,
               among: Collection[_E] | None = None) -> Any:
        """An enum member, by value; a near miss gets a did-you-mean. ``among`` narrows the
        members a bench file may name (an enum shared with other layers may have more)."""
        text = self.string(key, REQUIRED if default is REQUIRED else None)
        return default if text is None else self.member(key, text, kind, among=among)

    def member(self, key: str | KeyPath, text: Any, kind: type[_E], *, among: Collection[_E] | None = None) -> _E:
        """``text`` as a member of ``kind`` (of ``among`` if given); ``key`` locates the error
        (a path for array items)."""
        members = list(kind) if among is None else [m for m in kind if m in among]
        values = [str(m.value) for m in members]
        if not isinstance(text, str):
            raise self.error(key, f"should be a string, one of {', '.join(values)}; got {_describe(text)}")
        for member in members:
            if member.value == text:
                return member
        known = text in (str(m.value) for m in kind)
        problem = f"{text!r} is not allowed here" if known else f"unknown value {text!r}{did_you_mean(text, values)}"
        raise self.error(key, f"{problem}; expected one of {', '.join(values)}")

    def utc_datetime(self, key: str) -> dt.datetime:
        """A TOML offset date-time in UTC (``2026-01-05T09:00:00Z``)."""
        value = self._get(key, lambda v: isinstance(v, (dt.date, dt.time)), "a TOML date-time", REQUIRED)
        if not isinstance(value, dt.datetime) or value.utcoffset() is None:
            raise self.error(key, f"should be a UTC date-time such as 2026-01-05T09:00:00Z, got {value}")
        if value.utcoffset() != dt.timedelta(0):
            raise self.error(key, f"should be in UTC (end it with Z), got {value.isoformat()}")
        return value.astimezone(dt.UTC)

    def folder(self, key: str, default: str | _Missing = REQUIRED, *, must_exist: bool) -> Path:
        """A folder path; relative paths are taken from the bench file's folder."""
        text = self.string(key, default)
        if "\0" in text:  # the OS cannot name such a file: pathlib raises ValueError
            raise self.error(key, f"folder path {text!r} contains a NUL character")
        try:
            path = (self.doc.file.parent / Path(text).expanduser()).resolve()
            if must_exist and not path.is_dir():
                state = "is not a folder" if path.exists() else "does not exist"
                raise self.error(key, f"folder {text!r} {state} (resolved to {path})")
        except (OSError, RuntimeError) as exc:  # a name too long, a symlink loop
            raise self.error(key, f"folder path {text[:60]!r} cannot be used: {exc.strerror if isinstance(exc, OSError) else exc}") from None
        return path

    def convert(self, key: str, parse: Callable[[Any], _T], default: Any = REQUIRED) -> Any:
        """Run a parser from another layer on a string value, relocating its BadInput here."""
        return self.convert_value(key, self.string(key, default), parse)

    def convert_value(self, key: str | KeyPath, value: Any, parse: Callable[[Any], _T]) -> Any:
        if value is None:
            return None
        try:
            return parse(value)
        except BadInput as exc:
            raise self.error(key, str(exc)) from None

    def table(self, key: str, allowed: Collection[str]) -> Table | None:
        """The sub-table ``key`` (a ``[header]`` or an inline table), or None if absent."""
        if key not in self.data:
            return None
        return Table(self.doc, self.path + (key,), self.data[key], allowed)

    def tables(self, key: str, allowed: Collection[str]) -> list[Table]:
        """An array of tables (``[[key]]``); empty if absent."""
        items = self._get(key, lambda v: isinstance(v, list), "an array of tables", [])
        return [Table(self.doc, self.path + (key, i), item, allowed) for i, item in enumerate(items)]

    def strings(self, key: str) -> list[str]:
        """A non-empty array of strings."""
        items = self._get(key, lambda v: isinstance(v, list) and v != [], "a non-empty array of strings", REQUIRED)
        for index, item in enumerate(items):
            if not isinstance(item, str):
                raise self.error((key, index), f"should be a string, got {_describe(item)}")
        return items


def _is_int(value: Any) -> bool:
    """An integer that is not a boolean (``True`` is an ``int`` to Python, not to TOML)."""
    return isinstance(value, int) and not isinstance(value, bool)


def _describe(value: Any) -> str:
    """A value and its TOML type, for "should be X, got Y" messages."""
    names = {bool: "boolean", int: "integer", float: "float", str: "string", list: "array",
             dict: "table", dt.datetime: "date-time", dt.date: "date", dt.time: "time"}
    kind = names.get(type(value), type(value).__name__)
    shown = _shown(value) if not isinstance(value, (list, dict)) or len(repr(value)) <= 40 else "..."
    return f"{kind} {shown}"


def _shown(value: Any) -> str:
    """``repr``, except for an integer too long for Python to print in decimal (TOML's
    hexadecimal integers have no length limit)."""
    if _is_int(value) and value.bit_length() > 64:
        return f"an integer of {value.bit_length()} bits"
    return repr(value)


def user_with(table: Table, key: str, users: tuple[User, ...], roles: frozenset[Role]) -> EntityId:
    """The user named at ``key``, which must hold one of ``roles``."""
    user_id: EntityId = table.convert(key, EntityId.parse)
    wanted = " or ".join(sorted(roles))
    for user in users:
        if user.id == user_id:
            if user.roles & roles:
                return user_id
            held = ", ".join(sorted(user.roles))
            raise table.error(key, f"user {user_id} ({user.name}) does not hold role {wanted}; its roles: {held}")
    raise table.error(key, f"{user_id} is not a user of this bench; add it under [[users]] with role {wanted}")
