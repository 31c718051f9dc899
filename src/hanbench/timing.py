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
"""The CH counts a transfer interrupted after this long without a request (zigpy
MAX_TIME_WITHOUT_PROGRESS, PR #1346); the image still waits for the device (OTA_TARGET_WAIT_S)."""

GSME_WAKE_INTERVAL_S = 30 * 60.0
"""GSME wake / mirror update interval: "The GBCS spec recommends this value at 30 minutes"
(Silicon Labs GBCS CHF documentation)."""

QUEUE_EXPIRY_S = 24 * 60 * 60.0
"""How long the CH keeps a command for a sleepy device before alert 0x819D: 24 h, the Silicon
Labs Comms Hub Function default (GBCS fixes no figure this project could find)."""

OTA_TARGET_WAIT_S = QUEUE_EXPIRY_S
"""How long the CH holds an image for a device that has no transfer of it under way (it never
started one, or went quiet in the middle) before it gives up on the device for that image and
raises CCS08 File Transfer Failure (response code 3): as long as it keeps a command for a sleepy
device, since an image waiting for a device is one more thing held for it (bench choice: GBCS
fixes no figure this project could find; 24 h gives a GSME waking every 30 minutes 48 wakes to
fetch it, and an ESME far more than its link needs to come back)."""

HUB_RESTART_S = 30.0
"""How long an emulated CH restart keeps the CH off the air, unless the test says (bench choice:
the time an embedded Linux CH with an EmberZNet NCP takes to boot, bring its network up and
serve again is tens of seconds; GBCS and the CHTS set none the project could find)."""

RESPONSE_WAIT_S = QUEUE_EXPIRY_S
"""How long the DCC waits for a device's response to SR 11.2 / 11.3 (bench choice: as long as
the CH keeps a command for a sleepy device, so a GSME that wakes late is not flagged early)."""

RECEIPT_ALERT_WAIT_S = 3600.0
"""How long supplier automation waits for the receipt alert before asking SR 11.2 (bench choice)."""

AIR_POLL_INTERVAL_S = 1.0
"""How often a sleepy device (the GSME) polls its parent while awake, on the honest air: 1 s, the
Short Poll Interval of Silicon Labs' end-device-support plugin
(SL_ZIGBEE_AF_PLUGIN_END_DEVICE_SUPPORT_SHORT_POLL_INTERVAL_SECONDS). It gives a sleepy device one
block per poll, about 50 B/s with 50-byte blocks: the 47 B/s measured to a sleepy device (40-byte
blocks every ~0.85 s, rbaron/b-parasite PR #192)."""

AIR_BLOCK_PACING_S = 0.25
"""How long a device takes over an Image Block Response before it asks for the next, on the honest
air. With the ~17 ms of frames the air puts on the channel per block, 250 ms gives 241 KB to a
router-class device in about 21 minutes: the figure measured with zigbee2mqtt (about 150 B/s to a
router, Koenkk/zigbee2mqtt#17374: a 291,130-byte image at 48 % with 17 minutes to go), whose OTA
server keeps 250 ms per block (image_block_response_delay, zigbee-herdsman-converters
``lib/ota.ts``). Devices alone can be faster (a deCONZ trace of an IKEA router shows 66-74 ms per
block, dresden-elektronik/deconz-ota-plugin#44; Hue bulbs ask at once, zigbee-herdsman#1846), and
no GB figure is public (research notes, gbcs-domain section 5): a lab that times its devices sets
the bench file's ``[air.block_pacing_ms]`` per device type."""

DEVICE_RETRY_S = 10.0
"""An awake device tries again to send an alert or response that did not go this long after the
first failure, then twice as long after each further one (bench choice: GBCS sets no figure; by
the time the application sees a failure the stack has spent its MAC and APS retries, seconds of
them, so the link is down for longer than a frame's retries and 10 s is the next scale up)."""

DEVICE_RETRY_MAX_S = 15 * 60.0
"""The longest an awake device waits between two tries of a message that did not go (bench
choice: half the GSME's 30-minute wake interval, so an awake device's alert reaches the CH at
least twice as soon after a link comes back as a GSME's, which waits for its next wake)."""

HUB_COMMAND_RETRY_S = DEVICE_RETRY_S
"""How long after a command to an awake device went unacknowledged (the frame, or a GBT block,
not acknowledged after the stack's and GBT's retries) the CH sends it again, then twice as long
after each further failure (bench choice, as an awake device does with what it could not send:
GBCS sets no figure; the device's own first figure, DEVICE_RETRY_S)."""

HUB_COMMAND_RETRIES = 5
"""How many times the CH sends an unacknowledged command to an awake device again before it
gives up and fails the DCC's wait with CommandNotDelivered (bench choice: with HUB_COMMAND_RETRY_S
doubling, the last try goes about 5 minutes after the first failure, the Silicon Labs OTA
client's query delay, DEVICE_QUERY_INTERVAL_S: a link down for longer is not a lost frame)."""

BOARD_RESET_TIMEOUT_S = 15.0
"""How long the bench waits for a lab or twin dev board to answer ``identify`` again after a reset,
or after its control port vanished, before it gives up on the board (BoardTimeout, exit 3)
(bench choice: the board protocol in hardware.md sets none; a dev board's restart with native USB
re-enumeration and its /dev/serial/by-id link coming back takes a few seconds, so 15 s leaves
margin for a slow bootloader without holding a run long for a board that is gone)."""

DEVICE_OTA_TIMEOUT_S = 5.0
"""How long a device waits for each OTA answer (Query Next Image, Image Block, Upgrade End
Response) before it asks again: 5 s, zigpy's APS reply timeout, which the emulated devices' OTA
client keeps. The device conformance suite holds an answer back for longer than this to check
that a late one is not taken twice; a lab sets its device's own figure."""

DEVICE_QUERY_INTERVAL_S = 5 * 60.0
"""How long after a download ran out of retries an awake device queries the OTA server again,
and again until it has the image: 5 minutes, the Silicon Labs Zigbee OTA client's "Query OTA
Server Delay" default (EMBER_AF_PLUGIN_OTA_CLIENT_QUERY_DELAY_MINUTES = 5, "how often the client
queries the OTA server for a new upgrade image"). A sleepy GSME queries at its wakes instead."""

BRIDGE_WAKE_INTERVAL_S = GSME_WAKE_INTERVAL_S
"""How often the sleepy Alt HAN bridge (Bridge 4, seed 002: a 'sleepy Device') wakes and asks its
orchestrating bridge for firmware (bench choice: nothing public gives a figure; the GSME's 30 minutes,
the HAN's other battery device)."""

BRIDGE_ORCHESTRATION_WAIT_S = 2 * BRIDGE_WAKE_INTERVAL_S + 15 * 60.0
"""How long an orchestrating Alt HAN bridge waits for a bridge behind it to take its firmware before
it reports the update failed (bench choice: two wakes of the sleepy bridge and a quarter of an hour
for its download at a sleepy device's ~50 B/s)."""

GBT_ACK_TIMEOUT_S = 5.0
"""How long the sender of a GBCS message in General Block Transfer blocks waits for the
receiver's acknowledgement of each block before it sends the block again (bench choice: zigpy's
5 s reply timeout, which a TransferData and the acknowledging TransferData both fit in; GBCS
fixes no figure this project could find)."""

GBT_REASSEMBLY_TIMEOUT_S = 60.0
"""How long the receiver of a message in GBT blocks waits for its next block before it drops the
blocks so far and reports the message incomplete (bench choice: every retry of a block by an
awake sender, 4 x GBT_ACK_TIMEOUT_S, twice over and more; a sleepy device gets its blocks one per
GET within one wake)."""
