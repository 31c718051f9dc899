"""The key locator: the line of every key, header and array element, whatever TOML form it takes."""

from __future__ import annotations

import tomllib

import pytest

from hanbench.bench.toml_locator import KeyPath, dotted, locate_keys

DOC = '''\
# a comment with key = "value" in it
title = "x"  # a trailing comment
"quoted key" = 1
a.b.c = 2
text = """
fake = "not a key"
ends with "quotes\\"""""
literal = \'\'\'
[not.a.header]
\'\'\'
hosts = [
  "alpha",  # a comment inside an array, ] and all
  { name = "beta", port = 2 },
]

[table]
inner = { x = 1, y = { z = "}" } }

[[devices]]
type = "esme"
board = { serial_number = "A" }

[[devices]]
type = "gsme"

[[devices.endpoints]]
id = 1

[devices.extra]
when = 2026-01-05T09:00:00Z
'''


@pytest.mark.parametrize(
    ("path", "line"),
    [
        (("title",), 2),
        (("quoted key",), 3),
        (("a",), 4),
        (("a", "b", "c"), 4),
        (("text",), 5),
        (("literal",), 8),
        (("hosts",), 11),
        (("hosts", 0), 12),
        (("hosts", 1), 13),
        (("hosts", 1, "port"), 13),
        (("table",), 16),
        (("table", "inner", "y", "z"), 17),
        (("devices",), 19),
        (("devices", 0), 19),
        (("devices", 0, "board", "serial_number"), 21),
        (("devices", 1), 23),
        (("devices", 1, "type"), 24),
        (("devices", 1, "endpoints", 0), 26),
        (("devices", 1, "endpoints", 0, "id"), 27),
        (("devices", 1, "extra", "when"), 30),
    ],
)
def test_every_form_of_key_is_found(path: KeyPath, line: int) -> None:
    tomllib.loads(DOC)  # the locator's precondition: the text is valid TOML
    assert locate_keys(DOC).line(path) == line


def test_a_missing_key_falls_back_to_its_nearest_written_ancestor() -> None:
    keys = locate_keys(DOC)
    assert keys.line(("devices", 1, "firmware_version")) == 23
    assert keys.line(("table", "missing")) == 16
    assert keys.line(("nowhere", "at", "all")) is None
    assert keys.line(("fake",)) is None  # inside a multi-line string, not a key
    assert keys.line(("not",)) is None   # a header inside a literal string


def test_a_bare_key_cannot_start_inside_a_value() -> None:
    keys = locate_keys('x = "a = b"\ny = 1\n')
    assert (keys.line(("x",)), keys.line(("y",)), keys.line(("a",))) == (1, 2, None)


def test_crlf_line_endings() -> None:
    keys = locate_keys("[bench]\r\nname = 1\r\n\r\n[hub]\r\nid = 2\r\n")
    assert (keys.line(("bench", "name")), keys.line(("hub", "id"))) == (2, 5)


@pytest.mark.parametrize(
    ("path", "text"),
    [
        (("devices", 2, "type"), "devices[2].type"),
        (("users", 0, "roles", 1), "users[0].roles[1]"),
        (("bench", "quoted key"), 'bench."quoted key"'),
        ((), ""),
    ],
)
def test_dotted(path: KeyPath, text: str) -> None:
    assert dotted(path) == text


def test_text_that_is_not_toml_is_refused() -> None:
    with pytest.raises(ValueError, match="scan only text tomllib accepted"):
        locate_keys("= 1\n")
