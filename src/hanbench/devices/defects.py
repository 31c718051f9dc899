"""Known-bad firmware behaviour an emulated device can be given, to prove the suite catches it.

A device conformance suite is only worth running if it fails bad firmware. Each
:class:`Defect` is one deviation seen in the field; a device built with it behaves correctly
in every other respect. The device's own logic asks :meth:`Defects.has` at the one place the
deviation happens (its OTA client, its GBCS command checks, its image check), so there is
one device, not a copy per defect. A bench file gives a device ``defects = [...]`` (emu and
twin benches: a real device brings its own), and :meth:`BenchConfig.with_defects
<hanbench.bench.bench_config.BenchConfig.with_defects>` does the same from a script.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable

from hanbench.errors import BadInput
from hanbench.gbcs.device_types import DeviceType
from hanbench.gbcs.roles import CS06_DEVICE_TYPES

#: Device types that speak GBCS (take CS06, check MACs and counters): all but the IHD.
_GBCS_TYPES = frozenset({DeviceType.ESME, DeviceType.GSME, DeviceType.HCALCS, DeviceType.PPMID})
_EVERY_TYPE = frozenset(DeviceType) - {DeviceType.CH, DeviceType.ALT_HAN}


class Defect(enum.StrEnum):
    """One known-bad behaviour; the value is how a bench file names it."""

    IGNORES_WAIT_FOR_DATA = "ignores_wait_for_data"
    RESTARTS_AFTER_LOST_BLOCK = "restarts_from_zero_after_a_lost_block"
    OVERSIZED_BLOCK_REQUESTS = "asks_for_blocks_larger_than_allowed"
    RUNS_IMAGE_ON_UPGRADE_END = "runs_image_on_upgrade_end_response"
    ACCEPTS_BAD_SIGNATURE = "accepts_a_bad_signature"
    SKIPS_MAC_CHECK = "skips_the_mac_check"
    SKIPS_COUNTER_CHECK = "skips_the_counter_check"
    VERSION_FROM_OTA_HEADER = "reports_the_version_from_the_ota_header"
    NEVER_SENDS_INVALID_IMAGE = "never_sends_invalid_image"
    FORGETS_FUTURE_DATED_ACTIVATION = "forgets_a_future_dated_activation_over_a_power_cycle"
    QUERIES_WITHOUT_HARDWARE_VERSION = "leaves_the_hardware_version_out_of_query_next_image"
    IGNORES_QUERY_JITTER = "ignores_the_query_jitter"
    GIVES_UP_ON_WAIT_FOR_DATA = "gives_up_after_a_run_of_wait_for_data"
    APPENDS_DUPLICATE_BLOCKS = "appends_a_duplicated_block_twice"
    CHECKS_HASH_BEFORE_DATE_TIME = "checks_a_future_dated_activations_hash_on_arrival"
    RESTORES_CANCELLED_ACTIVATION = "restores_a_cancelled_activation_after_a_power_cycle"
    TAKES_PAGE_BLOCKS_AS_THEY_COME = "takes_an_image_pages_blocks_as_they_come"

    @property
    def description(self) -> str:
        """What the firmware does wrong, in the words of a field report."""
        return _DESCRIPTIONS[self]

    @property
    def needs_image_pages(self) -> bool:
        """Whether the deviation lives in a client that downloads with Image Page Requests."""
        return self is Defect.TAKES_PAGE_BLOCKS_AS_THEY_COME

    @property
    def device_types(self) -> frozenset[DeviceType]:
        """The device types the deviation can exist on."""
        if self in (Defect.SKIPS_MAC_CHECK, Defect.SKIPS_COUNTER_CHECK):
            return _GBCS_TYPES
        if self in (Defect.RUNS_IMAGE_ON_UPGRADE_END, Defect.FORGETS_FUTURE_DATED_ACTIVATION,
                    Defect.CHECKS_HASH_BEFORE_DATE_TIME, Defect.RESTORES_CANCELLED_ACTIVATION):
            return CS06_DEVICE_TYPES
        if self is Defect.IGNORES_QUERY_JITTER:
            return _EVERY_TYPE - {DeviceType.GSME}  # a sleepy GSME hears no Image Notify
        return _EVERY_TYPE


_DESCRIPTIONS = {
    Defect.IGNORES_WAIT_FOR_DATA: "asks for the next block at once after WAIT_FOR_DATA, whatever the server's "
                                  "request time and minimum block period",
    Defect.RESTARTS_AFTER_LOST_BLOCK: "goes back to offset 0 when one Image Block Response is lost",
    Defect.OVERSIZED_BLOCK_REQUESTS: "asks for 128-byte blocks, more than one Image Block Response can carry",
    Defect.RUNS_IMAGE_ON_UPGRADE_END: "runs the downloaded image when an Upgrade End Response gives it an upgrade "
                                      "time, without waiting for CS06",
    Defect.ACCEPTS_BAD_SIGNATURE: "keeps an image whose Supplier signature does not verify",
    Defect.SKIPS_MAC_CHECK: "acts on a command without checking the Access Control Broker's MAC",
    Defect.SKIPS_COUNTER_CHECK: "acts on a command whose originator counter is not above the last one",
    Defect.VERSION_FROM_OTA_HEADER: "believes the unsigned OTA header's file version instead of the signed firmware",
    Defect.NEVER_SENDS_INVALID_IMAGE: "drops an image it refuses without an Upgrade End INVALID_IMAGE, so the "
                                      "server waits in vain",
    Defect.FORGETS_FUTURE_DATED_ACTIVATION: "keeps a future-dated activation in RAM only, so a power cycle before its "
                                            "date-time loses it",
    Defect.QUERIES_WITHOUT_HARDWARE_VERSION: "sends Query Next Image without its hardware version, so the CH cannot "
                                             "keep an image for other hardware from it",
    Defect.IGNORES_QUERY_JITTER: "queries after every Image Notify whatever its query jitter, so a broadcast "
                                 "brings every device at once",
    Defect.GIVES_UP_ON_WAIT_FOR_DATA: "counts each WAIT_FOR_DATA as a failed attempt, so a run of them interrupts "
                                      "the download",
    Defect.APPENDS_DUPLICATE_BLOCKS: "appends a block the server sent twice a second time, corrupting the image",
    Defect.CHECKS_HASH_BEFORE_DATE_TIME: "checks a future-dated CS06's hash when it arrives instead of at its "
                                         "date-time, answering hashMismatch at once",
    Defect.RESTORES_CANCELLED_ACTIVATION: "clears a cancelled future-dated activation in RAM only, so after a power "
                                          "cycle it runs at its date-time after all",
    Defect.TAKES_PAGE_BLOCKS_AS_THEY_COME: "downloads with Image Page Requests and appends each block of a page as "
                                           "it arrives, whatever offset it names",
}


class Defects(frozenset[Defect]):
    """The defects of one device (none: a good device)."""

    def has(self, defect: Defect) -> bool:
        return defect in self

    @classmethod
    def parse(cls, names: Iterable[str], device_type: DeviceType | None = None) -> Defects:
        """Defects named as a bench file names them; :class:`BadInput` for an unknown name, one
        named twice, or one a device of ``device_type`` cannot have."""
        found: list[Defect] = []
        for name in names:
            try:
                defect = Defect(name)
            except ValueError:
                known = ", ".join(d.value for d in Defect)
                raise BadInput(f"no defect {name!r}; known defects: {known}") from None
            if defect in found:
                raise BadInput(f"defect {name!r} is listed twice")
            if device_type is not None and device_type not in defect.device_types:
                raise BadInput(f"a device of type {device_type.value} cannot have defect {name!r}: it applies to "
                               f"{', '.join(sorted(t.value for t in defect.device_types))}")
            found.append(defect)
        return cls(found)

    def check_client(self, page_size: int | None) -> None:
        """:class:`BadInput` if a defect needs a client with Image Page Requests and ``page_size`` is None."""
        paged = sorted(d.value for d in self if d.needs_image_pages)
        if paged and page_size is None:
            raise BadInput(f"defect {paged[0]!r} is in a client that downloads with Image Page Requests: "
                           "give the device image_page_size")


#: A good device.
NO_DEFECTS = Defects()
