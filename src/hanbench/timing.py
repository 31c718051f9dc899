"""The default of every timing knob of an update, each with its source, in one place.

The part that uses a knob takes its default from here (the CH's OTA server and sleepy
queue, the GSME, the DCC), and so does the bench file's ``[timing]`` table, so a default
cannot differ between the bench file and the code, nor between two parts. It sits at the
package floor, beside ``clock`` and ``listeners``, because every layer reads it; it imports
nothing, so reading a bench file does not load the radio stack.
"""

from __future__ import annotations

OTA_MAX_BLOCK_SIZE = 50
"""Bytes per Image Block Response the CH serves at most: zigpy and zigbee2mqtt cap at 50 (zigpy
PR #1781 raised 40 -> 50 for Telink); Silicon Labs' OTA server caps at 63 without APS encryption."""

OTA_MINIMUM_BLOCK_PERIOD_MS = 0
"""ZCL OTA MinimumBlockPeriod the CH imposes (ms, uint16; 15-0324-02 section 11.10.10): 0 = no pacing."""

OTA_STALL_TIMEOUT_S = 30.0
"""The CH gives up a transfer without a request for this long (zigpy MAX_TIME_WITHOUT_PROGRESS, PR #1346)."""

GSME_WAKE_INTERVAL_S = 30 * 60.0
"""GSME wake / mirror update interval: "The GBCS spec recommends this value at 30 minutes"
(Silicon Labs GBCS CHF documentation)."""

QUEUE_EXPIRY_S = 24 * 60 * 60.0
"""How long the CH keeps a command for a sleepy device before alert 0x819D: 24 h, the Silicon
Labs Comms Hub Function default (GBCS fixes no figure this project could find)."""

RESPONSE_WAIT_S = QUEUE_EXPIRY_S
"""How long the DCC waits for a device's response to SR 11.2 / 11.3 (bench choice: as long as
the CH keeps a command for a sleepy device, so a GSME that wakes late is not flagged early)."""

RECEIPT_ALERT_WAIT_S = 3600.0
"""How long supplier automation waits for the receipt alert before asking SR 11.2 (bench choice)."""
