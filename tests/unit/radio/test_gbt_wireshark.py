"""Wireshark's GBCS dissector reassembles the bench's GBT blocks, as they cross the air in
Tunneling TransferData frames, into the very message they carry."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import zigpy.types as t

from fixture_files import ROOT, RTDS, script_module
from test_capture import capture, nwk
from hanbench.gbcs.gbt import segment

pytestmark = [pytest.mark.looptime,
              pytest.mark.skipif(shutil.which("tshark") is None, reason="needs tshark (Wireshark) installed")]

CS06 = bytes.fromhex((RTDS / "gbcs/11.3_CS06/CS06_11.3_IMMEDIATE_SUCCESS_COMMAND_GBCS.HEX").read_text().strip())


def transfer_data(data: bytes, tsn: int) -> t.ZigbeePacket:
    """The CH's TransferData (cluster-specific, server to client, command 0x01) on tunnel 0."""
    zcl = bytes([0x09, tsn, 0x01]) + (0).to_bytes(2, "little") + data
    return t.ZigbeePacket(src=nwk(0x0000), src_ep=1, dst=nwk(0x1000), dst_ep=1, tsn=tsn, profile_id=0x0109,
                          cluster_id=0x0704, data=t.SerializableBytes(zcl))


async def test_wireshark_puts_the_blocks_back_together(tmp_path: Path) -> None:
    blocks = segment(CS06, 68)
    await capture(tmp_path / "air.pcap", [(1, transfer_data(b.encode(), n)) for n, b in enumerate(blocks)])
    fields = ("gbcs_message.gbt_header.block_number", "gbcs_message.gbt_header.block_control.last_block",
              "gbcs_message.routing_header.message_code", "gbcs_message.routing_header.originator_counter",
              "gbcs_message.gbt.reassembled.length", "gbcs_message.grouping_header.message_code",
              "gbcs_message.grouping_header.originator_counter")
    done = subprocess.run(["tshark", "-r", str(tmp_path / "air.pcap"), "-T", "fields", "-E", "separator=|",
                           *(arg for f in fields for arg in ("-e", f))],
                          capture_output=True, text=True, timeout=60, check=True)
    rows = [dict(zip(fields, line.split("|"), strict=True)) for line in done.stdout.splitlines()]
    assert [r["gbcs_message.gbt_header.block_number"] for r in rows] == [str(n) for n in range(1, len(blocks) + 1)]
    assert [r["gbcs_message.gbt_header.block_control.last_block"] for r in rows] == ["0"] * (len(blocks) - 1) + ["1"]
    assert {(r["gbcs_message.routing_header.message_code"], r["gbcs_message.routing_header.originator_counter"])
            for r in rows} == {("0x0012", "1000")}
    *pieces, whole = rows
    assert all(r["gbcs_message.gbt.reassembled.length"] == "" for r in pieces)
    assert whole["gbcs_message.gbt.reassembled.length"] == str(len(CS06))
    assert (whole["gbcs_message.grouping_header.message_code"],
            whole["gbcs_message.grouping_header.originator_counter"]) == ("0x0012", "1000")


async def test_the_second_opinion_puts_the_blocks_together_as_wireshark_does(tmp_path: Path) -> None:
    """benchmarks/gbcs_second_opinion.py reads GBT blocks as their message, in the frame of the
    last block, where Wireshark's dissector reads it too; acknowledgements carry none."""
    opinion = script_module(ROOT / "benchmarks" / "gbcs_second_opinion.py")
    blocks = segment(CS06, 68)
    steps = []
    for n, block in enumerate(blocks):
        steps += [(1, transfer_data(block.encode(), n)), (1, acknowledgement(block.ack().encode(), n))]
    await capture(tmp_path / "air.pcap", steps)
    messages = opinion.gbcs_messages(opinion.pcap_frames(tmp_path / "air.pcap"))
    last_block_frame = 2 * len(blocks) - 1
    assert messages == [opinion.Captured(last_block_frame, CS06)]
    assert opinion.wireshark_view(tmp_path / "air.pcap") == {last_block_frame: (0x0012, 1, 1000)}


def acknowledgement(data: bytes, tsn: int) -> t.ZigbeePacket:
    """The ESME's TransferData (cluster-specific, client to server, command 0x02) on tunnel 0."""
    zcl = bytes([0x01, tsn, 0x02]) + (0).to_bytes(2, "little") + data
    return t.ZigbeePacket(src=nwk(0x1000), src_ep=1, dst=nwk(0x0000), dst_ep=1, tsn=tsn, profile_id=0x0109,
                          cluster_id=0x0704, data=t.SerializableBytes(zcl))
