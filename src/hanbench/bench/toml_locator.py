"""Find the line on which each key and array element of a TOML document is written.

``tomllib`` reports positions for syntax errors only. A validator that wants to say
"``devices[2].type`` on line 31" needs the line of a value that tomllib has already
decoded, so this module walks the same text once more and records, for every key path,
the line where it appears. It never decodes values (tomllib did that) and assumes the text
is well-formed TOML: call it only on text tomllib accepted.
"""

from __future__ import annotations

import bisect
import re
import tomllib

KeyPath = tuple[str | int, ...]

_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")
_SCALAR_END = frozenset(",]}#\r\n")


def dotted(path: KeyPath) -> str:
    """Spell a key path the way users read it: ``devices[2].board.serial_number``."""
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            name = part if _BARE_KEY.fullmatch(part) else '"' + part.replace('"', '\\"') + '"'
            text += f".{name}" if text else name
    return text


class KeyLines:
    """The 1-based line of every key, table header and array element in one document."""

    def __init__(self, lines: dict[KeyPath, int]) -> None:
        self._lines = lines

    def line(self, path: KeyPath) -> int | None:
        """The line of ``path``, or of its nearest written ancestor.

        A key that is missing is reported at the header of the table that should hold it;
        ``None`` only when no part of the path is written at all.
        """
        for end in range(len(path), 0, -1):
            found = self._lines.get(path[:end])
            if found is not None:
                return found
        return None


def locate_keys(text: str) -> KeyLines:
    """Scan ``text`` (already accepted by tomllib) and return where each key is written."""
    return KeyLines(_Scanner(text).scan())


class _Scanner:
    """A structural TOML walker: tables, keys, arrays and inline tables; values skipped."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0
        self.line_starts = [0] + [m.end() for m in re.finditer(r"\n", text)]
        self.lines: dict[KeyPath, int] = {}
        self.array_counts: dict[KeyPath, int] = {}

    def scan(self) -> dict[KeyPath, int]:
        table: KeyPath = ()
        while True:
            self._skip_blank()
            if self.pos >= len(self.text):
                return self.lines
            line = self._line()
            if self.text.startswith("[[", self.pos):
                self.pos += 2
                parts = self._key()
                name = self._resolve(parts[:-1]) + parts[-1:]
                self._expect("]]")
                index = self.array_counts.get(name, 0)
                self.array_counts[name] = index + 1
                self.lines.setdefault(name, line)
                table = name + (index,)
            elif self.text.startswith("[", self.pos):
                self.pos += 1
                table = self._resolve(self._key())
                self._expect("]")
            else:
                self._key_value(table)
                continue
            self.lines[table] = line

    # -- structure -------------------------------------------------------------------------

    def _key_value(self, prefix: KeyPath) -> None:
        line = self._line()
        parts = self._key()
        for end in range(1, len(parts) + 1):
            self.lines.setdefault(prefix + parts[:end], line)
        self._skip_spaces()
        self._expect("=")
        self._skip_spaces()
        self._value(prefix + parts)

    def _value(self, path: KeyPath) -> None:
        char = self.text[self.pos]
        if char == "{":
            self.pos += 1
            while True:
                self._skip_blank()
                if self.text[self.pos] == "}":
                    self.pos += 1
                    return
                self._key_value(path)
                self._skip_blank()
                if self.text[self.pos] == ",":
                    self.pos += 1
        elif char == "[":
            self.pos += 1
            index = 0
            while True:
                self._skip_blank()
                if self.text[self.pos] == "]":
                    self.pos += 1
                    return
                self.lines[path + (index,)] = self._line()
                self._value(path + (index,))
                index += 1
                self._skip_blank()
                if self.text[self.pos] == ",":
                    self.pos += 1
        elif char in "\"'":
            self._skip_string()
        else:
            while self.pos < len(self.text) and self.text[self.pos] not in _SCALAR_END:
                self.pos += 1

    def _resolve(self, parts: KeyPath) -> KeyPath:
        """Qualify a header's key: a part naming an array of tables means its last element."""
        path: KeyPath = ()
        for part in parts:
            path += (part,)
            if path in self.array_counts:
                path += (self.array_counts[path] - 1,)
        return path

    def _key(self) -> KeyPath:
        """Read a (possibly dotted, possibly quoted) key into its parts."""
        parts: list[str] = []
        while True:
            self._skip_spaces()
            if self.text[self.pos] in "\"'":
                start = self.pos
                self._skip_string()
                parts.append(tomllib.loads("k = " + self.text[start : self.pos])["k"])
            else:
                match = _BARE_KEY.match(self.text, self.pos)
                if match is None:
                    raise ValueError(f"no key at offset {self.pos}; scan only text tomllib accepted")
                parts.append(match.group())
                self.pos = match.end()
            self._skip_spaces()
            if self.text.startswith(".", self.pos):
                self.pos += 1
                continue
            return tuple(parts)

    # -- lexical ---------------------------------------------------------------------------

    def _skip_string(self) -> None:
        quote = self.text[self.pos]
        triple = quote * 3
        if self.text.startswith(triple, self.pos):
            self.pos += 3
            while not self.text.startswith(triple, self.pos):
                self.pos += 2 if quote == '"' and self.text[self.pos] == "\\" else 1
            self.pos += 3
            # Up to two quotes may end the content just before the closing delimiter.
            while self.pos < len(self.text) and self.text[self.pos] == quote:
                self.pos += 1
            return
        self.pos += 1
        while self.text[self.pos] != quote:
            self.pos += 2 if quote == '"' and self.text[self.pos] == "\\" else 1
        self.pos += 1

    def _skip_spaces(self) -> None:
        while self.pos < len(self.text) and self.text[self.pos] in " \t":
            self.pos += 1

    def _skip_blank(self) -> None:
        """Skip spaces, newlines and comments."""
        while self.pos < len(self.text):
            char = self.text[self.pos]
            if char in " \t\r\n":
                self.pos += 1
            elif char == "#":
                end = self.text.find("\n", self.pos)
                self.pos = len(self.text) if end < 0 else end
            else:
                return

    def _expect(self, token: str) -> None:
        self._skip_spaces()
        if not self.text.startswith(token, self.pos):
            raise ValueError(f"expected {token!r} at offset {self.pos}; scan only text tomllib accepted")
        self.pos += len(token)

    def _line(self) -> int:
        return bisect.bisect_right(self.line_starts, self.pos)
