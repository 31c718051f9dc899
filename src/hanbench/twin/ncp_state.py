"""What an EZSP NCP keeps in flash (its NVRAM tokens), stored as one JSON file.

A real stick remembers its network across power cycles and host restarts; the twin
must too, so a bench can form a network once and resume it on the next run, and a
test can prove that `ControllerApplication.startup()` resumes rather than re-forms.
Everything that a reset forgets (configuration values, endpoints, policies) lives in
the EZSP layer, not here.
"""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path
import secrets
import tempfile
from typing import Any

from hanbench.errors import BadInput

STATE_FILE_NAME = "ezsp-ncp.json"
UNSET_EUI64 = "ff:ff:ff:ff:ff:ff:ff:ff"
FORMAT_VERSION = 1

# EmberZNet's well-known default TC link key, what a fresh chip holds
ZIGBEE_ALLIANCE_09 = b"ZigBeeAlliance09".hex()


@dataclasses.dataclass
class NetworkTokens:
    """The stack's network tokens, present once a network is formed."""

    pan_id: int
    extended_pan_id: str  # as zigpy prints it, "dd:dd:..."
    channel: int
    channel_mask: int
    tx_power: int
    nwk_update_id: int
    nwk_manager_id: int


@dataclasses.dataclass
class NcpNvram:
    """The NCP's persistent state. Field names are the JSON keys."""

    eui64: str  # factory EUI64 as zigpy prints it, "00:11:22:33:44:55:66:77"
    restored_eui64: str | None = None  # NV3 "restored EUI64" token, overrides eui64
    network: NetworkTokens | None = None
    network_key: str = "00" * 16
    network_key_seq: int = 0
    nwk_frame_counter: int = 0
    aps_frame_counter: int = 0
    tc_link_key: str = ZIGBEE_ALLIANCE_09
    security_bitmask: int = 0
    # Devices the trust centre let in, so address lookups survive a restart
    known_devices: dict[str, int] = dataclasses.field(default_factory=dict)

    @classmethod
    def factory_new(cls, eui64: str | None = None) -> NcpNvram:
        """A chip straight from the factory: its own EUI64 and no network."""
        if eui64 is None:
            eui64 = ":".join(f"{b:02x}" for b in secrets.token_bytes(8))
        return cls(eui64=eui64)

    @property
    def effective_eui64(self) -> str:
        """The EUI64 the stack uses: the restored one when it has been written."""
        if self.restored_eui64 is not None and self.restored_eui64 != UNSET_EUI64:
            return self.restored_eui64
        return self.eui64

    def forget_network(self, *, keep_frame_counters: bool) -> None:
        """What `leaveNetwork` / `tokenFactoryReset` erase."""
        self.network = None
        self.network_key = "00" * 16
        self.network_key_seq = 0
        self.tc_link_key = ZIGBEE_ALLIANCE_09
        self.security_bitmask = 0
        self.known_devices.clear()
        if not keep_frame_counters:
            self.nwk_frame_counter = 0
            self.aps_frame_counter = 0


class NvramStore:
    """Loads and saves one `NcpNvram` in a folder, atomically.

    A write goes to a temporary file that replaces the old one in a single rename, so a
    crash mid-write leaves either the old network or the new one, never half of each.
    """

    def __init__(self, state_dir: Path, *, eui64: str | None = None) -> None:
        self.path = Path(state_dir) / STATE_FILE_NAME
        self.nvram = self._load(eui64)

    def _load(self, eui64: str | None) -> NcpNvram:
        if not self.path.exists():
            nvram = NcpNvram.factory_new(eui64)
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._write(nvram)
            return nvram
        try:
            raw: dict[str, Any] = json.loads(self.path.read_text())
            if raw.pop("format") != FORMAT_VERSION:
                raise ValueError("unknown format version")
            network = raw.pop("network")
            return NcpNvram(
                **raw, network=NetworkTokens(**network) if network is not None else None
            )
        except (ValueError, KeyError, TypeError) as exc:
            raise BadInput(
                f"NCP state file {self.path} is not a valid twin NVRAM ({exc}); "
                "delete it to start from a factory-new NCP"
            ) from exc

    def save(self) -> None:
        """Persist the current NVRAM."""
        self._write(self.nvram)

    def _write(self, nvram: NcpNvram) -> None:
        document = {"format": FORMAT_VERSION, **dataclasses.asdict(nvram)}
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".ncp-", suffix=".json")
        try:
            with os.fdopen(fd, "w") as f:
                json.dump(document, f, indent=2, sort_keys=True)
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
