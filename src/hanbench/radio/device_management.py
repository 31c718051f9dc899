"""The Smart Energy Device Management cluster (0x0708): how a change of tenancy or supplier
reaches the IHD and PPMID on the HAN (SECMP0056).

SECMP0056 ("IHD/PPMID Zigbee Attributes Available on the HAN", seed 003) names the gap: IHDs
and PPMIDs are not told of a Change of Tenancy (CoT) or Change of Supplier (CoS), so a new
tenant can read the previous tenant's data. Its final solution is not in the public record;
the bench's choice is the one the Smart Energy profile already has for exactly this, the
Device Management cluster's two server-to-client commands:

====  ============================  ===================================================
id    command                       fields (little-endian, SE 1.4 D.10)
====  ============================  ===================================================
0x00  PublishChangeOfTenancy        provider ID (uint32), issuer event ID (uint32),
                                    tariff type (uint8), implementation date/time
                                    (UTCTime), proposed tenancy change control (bitmap32)
0x01  PublishChangeOfSupplier       provider ID, issuer event ID, tariff type,
                                    proposed provider ID (uint32), provider change
                                    implementation time (UTCTime), provider change
                                    control (bitmap32), proposed provider name and
                                    contact details (octet strings)
====  ============================  ===================================================

Why a command and not only attributes: GBCS already carries this very command for a change
of tenancy. DUIS SR 3.2 "Restrict Access For Change Of Tenancy" becomes GCS09 "Set Change of
Tenancy date on GPF", whose GBZ payload is one PublishChangeOfTenancy frame (RTDS 4.5.0
``3.2_GCS09``: control 0x00000200, Clear IHD Data - Consumer), which the CH's Gas Proxy
Function applies on its ESI endpoint (Silicon Labs' gas-proxy-function replays it there). So
the CH has the frame in hand; sending the same frame on to the IHDs and PPMIDs it serves
needs no new definition on either side, and the device's Default Response tells the CH, and
through it the Supplier, which display has cleared. Attributes alone (the cluster's Tenancy
Control set, 0x0200 ChangeOfTenancyUpdateDateTime and 0x0201 ProposedTenancyChangeControl)
would have each display poll the CH, and the CH would never know whether one had looked.
A sleepy device would learn of it from Notification Flags 5 (``Publish_Change_Of_Tenancy``,
``Publish_Change_Of_Supplier``, which zigpy defines), but IHD and PPMID are awake.

zigpy 2.4 knows the cluster's ID and no command of it; :class:`DeviceManagement` defines the
two commands with zigpy's types and, like :mod:`hanbench.radio.se_clusters`, registers
itself for the cluster ID on import, so both the CH's interviewed devices and the emulated
devices' endpoints carry it. ``tests/unit/radio/test_device_management.py`` reads the RTDS
frame with it, byte for byte.
"""

from __future__ import annotations

import enum
from typing import Final

import zigpy.types as t
from zigpy.zcl.clusters import smartenergy
from zigpy.zcl.foundation import ZCLCommandDef

#: Provider ID and tariff type as GB sends them: RTDS GCS09 carries 0 for both (the DCC names
#: a supplier by its entity ID, not by a ZCL provider ID).
NO_PROVIDER_ID = 0
UNSPECIFIED_TARIFF = 0
#: Implementation date/time meaning "now" (SE 1.4: 0x00000000 is immediate).
IMMEDIATELY = t.UTCTime(0)


class Change(enum.StrEnum):
    """Which change a notice announces; the value is how logs and records spell it."""

    TENANCY = "tenancy"
    SUPPLIER = "supplier"


class ProposedChangeControl(t.bitmap32):
    """Proposed Tenancy / Provider Change Control (SE 1.4 Table D-164): what a device does on
    the change. Bits 11-12 are a 2-bit contactor state, left out: no display has a contactor."""

    PRE_SNAPSHOTS = 1 << 0
    POST_SNAPSHOTS = 1 << 1
    RESET_CREDIT_REGISTER = 1 << 2
    RESET_DEBIT_REGISTER = 1 << 3
    RESET_BILLING_PERIOD = 1 << 4
    CLEAR_TARIFF_PLAN = 1 << 5
    CLEAR_STANDING_CHARGE = 1 << 6
    BLOCK_HISTORICAL_LOAD_PROFILE = 1 << 7
    CLEAR_HISTORICAL_LOAD_PROFILE = 1 << 8
    CLEAR_IHD_DATA_CONSUMER = 1 << 9
    CLEAR_IHD_DATA_SUPPLIER = 1 << 10
    CLEAR_TRANSACTION_LOG = 1 << 13
    CLEAR_PREPAYMENT_LOG = 1 << 14


#: What a change of tenancy asks of a display: RTDS GCS09's control, the consumer's data.
TENANCY_CONTROL = ProposedChangeControl.CLEAR_IHD_DATA_CONSUMER
#: What a change of supplier asks: the consumer's data and the old supplier's (prices,
#: messages, contact details), since SECMP0056 counts a CoS as a possible change of occupant.
SUPPLIER_CONTROL = ProposedChangeControl.CLEAR_IHD_DATA_CONSUMER | ProposedChangeControl.CLEAR_IHD_DATA_SUPPLIER


class DeviceManagement(smartenergy.DeviceManagement):
    """zigpy's Device Management cluster with the two Publish commands SECMP0056 needs."""

    class ClientCommandDefs(smartenergy.DeviceManagement.ClientCommandDefs):
        publish_change_of_tenancy: Final = ZCLCommandDef(
            id=0x00,
            schema={
                "provider_id": t.uint32_t,
                "issuer_event_id": t.uint32_t,
                "tariff_type": t.uint8_t,
                "implementation_date_time": t.UTCTime,
                "proposed_tenancy_change_control": ProposedChangeControl,
            },
        )
        publish_change_of_supplier: Final = ZCLCommandDef(
            id=0x01,
            schema={
                "current_provider_id": t.uint32_t,
                "issuer_event_id": t.uint32_t,
                "tariff_type": t.uint8_t,
                "proposed_provider_id": t.uint32_t,
                "provider_change_implementation_time": t.UTCTime,
                "provider_change_control": ProposedChangeControl,
                "proposed_provider_name": t.LVBytes,
                "proposed_provider_contact_details": t.LVBytes,
            },
        )


PUBLISH_CHANGE_OF_TENANCY: Final = DeviceManagement.ClientCommandDefs.publish_change_of_tenancy
PUBLISH_CHANGE_OF_SUPPLIER: Final = DeviceManagement.ClientCommandDefs.publish_change_of_supplier
