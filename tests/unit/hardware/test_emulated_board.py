"""The emulated board seen raw, byte for byte, as a manufacturer's test build would be."""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import AsyncIterator
from typing import Any

import pytest
import serial

from hanbench.hardware.protocol import PROTOCOL_VERSION
from hanbench.twin.board import EmulatedBoard


@pytest.fixture
async def raw(board: EmulatedBoard) -> AsyncIterator[serial.SerialBase]:
    link = serial.serial_for_url(str(board.path), baudrate=115200, timeout=2)
    yield link
    link.close()


async def exchange(link: serial.SerialBase, line: bytes) -> dict[str, Any]:
    await asyncio.to_thread(link.write, line)
    answer = await asyncio.to_thread(link.readline)
    assert answer.endswith(b"\n"), f"no complete line came back: {answer!r}"
    return json.loads(answer)


async def test_a_request_gets_a_v1_response_with_its_id(raw: serial.SerialBase) -> None:
    answer = await exchange(raw, b'{"v":1,"id":41,"op":"identify"}\n')
    assert (answer["v"], answer["id"], answer["ok"]) == (1, 41, True)
    assert answer["result"]["role"] == "esme" and answer["result"]["protocol"] == PROTOCOL_VERSION


async def test_a_request_without_op_is_a_bad_request_echoing_the_id(raw: serial.SerialBase) -> None:
    answer = await exchange(raw, b'{"v":1,"id":7}\n')
    assert answer["id"] == 7 and answer["ok"] is False
    assert answer["error"]["code"] == "bad_request" and "'op'" in answer["error"]["message"]


async def test_a_line_that_is_not_json_is_a_bad_request_with_null_id(raw: serial.SerialBase) -> None:
    answer = await exchange(raw, b"hello\r\n")
    assert answer["id"] is None and answer["error"]["code"] == "bad_request"


async def test_a_request_in_another_major_version_is_refused(raw: serial.SerialBase) -> None:
    answer = await exchange(raw, b'{"v":2,"id":3,"op":"identify"}\n')
    assert answer["error"]["code"] == "unsupported_version" and answer["id"] == 3


async def test_a_bad_clock_argument_is_invalid_argument(raw: serial.SerialBase) -> None:
    answer = await exchange(raw, b'{"v":1,"id":4,"op":"set_clock","clock":"2030-01-01T00:00:00"}\n')
    assert answer["error"]["code"] == "invalid_argument" and "time zone" in answer["error"]["message"]


async def test_garbage_is_written_verbatim(raw: serial.SerialBase, board: EmulatedBoard) -> None:
    board.send_garbage(b"\x00\xfe boot\n")
    assert await asyncio.to_thread(raw.readline) == b"\x00\xfe boot\n"


async def test_a_muted_board_reads_but_does_not_answer(raw: serial.SerialBase, board: EmulatedBoard) -> None:
    board.mute()
    raw.timeout = 0.2
    await asyncio.to_thread(raw.write, b'{"v":1,"id":1,"op":"state"}\n')
    assert await asyncio.to_thread(raw.readline) == b""
    assert [r.op for r in board.requests_seen] == []
    board.unmute()
    raw.timeout = 2
    assert (await exchange(raw, b'{"v":1,"id":2,"op":"state"}\n'))["ok"] is True


async def test_vanish_removes_the_link_then_points_it_at_a_live_pty(board: EmulatedBoard) -> None:
    returning = asyncio.create_task(board.vanish(0.1))
    await asyncio.sleep(0)
    assert not board.path.exists() and not board.present
    await returning
    assert board.path.is_symlink() and os.path.realpath(board.path).startswith("/dev/pts/")
    assert board.appearances == 2


@pytest.mark.parametrize(("line", "code"), [
    (b'{"v":1,"id":3,"op":"set_clock","clock":"0001-01-01T00:00:00+01:00"}', "invalid_argument"),
    (b"[" * 100_000, "bad_request"),
    (b'{"v":1,"id":' + b"9" * 5000, "bad_request"),
], ids=["clock before year 1 in UTC", "deep nesting", "integer of 5,000 digits"])
async def test_bad_input_gets_an_error_reply_never_silence(raw: serial.SerialBase, line: bytes, code: str) -> None:
    answer = await exchange(raw, line + b"\n")
    assert answer["ok"] is False and answer["error"]["code"] == code
    assert (await exchange(raw, b'{"v":1,"id":5,"op":"state"}\n'))["ok"] is True
