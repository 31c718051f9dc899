"""The zigpy configuration every hanbench coordinator uses, virtual or on a real stick.

A bench must be quiet and deterministic: zigpy's background chores would put frames on the
air that no test asked for and reach the internet. So everything periodic is off:

* ``watchdog_enabled``: zigpy's 30 s watchdog (bellows: ``readCounters`` every 10 s).
* ``backup_enabled``: network backups at startup and every 24 h.
* ``topology_scan_enabled``: ``Mgmt_Lqi_req`` to every router every 4 h.
* ``ota.broadcast_enabled``: an ``image_notify`` broadcast every 3.9 h. The Comms Hub decides
  when to notify, not zigpy.
* ``ota.providers = []``: no index fetches from GitHub, Ledvance or Sonoff. OTA support
  itself stays on (``Device.update_firmware`` and the OTA cluster handler need it).

The channel is fixed so that ``form_network`` does not run an energy scan. Nothing here is
radio-specific: bellows' application accepts the same dict (its schema extends zigpy's).
"""

from __future__ import annotations

from typing import Any

import zigpy.config as conf


def bench_zigpy_config(
    device_path: str,
    *,
    database_path: str | None = None,
    channel: int = 15,
    pan_id: int | None = None,
    extended_pan_id: str | None = None,
    network_key: str | None = None,
) -> dict[str, Any]:
    """The config dict for ``ControllerApplication`` with every background task off.

    ``device_path`` is the radio's path (``/dev/ttyUSB0``, ``socket://...``, or any name for
    the virtual radio); ``database_path=None`` keeps zigpy's state in memory only.
    ``pan_id``, ``extended_pan_id`` (``"aa:bb:..."``) and ``network_key`` (16 bytes as
    ``"aa:bb:..."``) are random at formation when None.
    """
    network: dict[str, Any] = {conf.CONF_NWK_CHANNEL: channel}
    if pan_id is not None:
        network[conf.CONF_NWK_PAN_ID] = pan_id
    if extended_pan_id is not None:
        network[conf.CONF_NWK_EXTENDED_PAN_ID] = extended_pan_id
    if network_key is not None:
        network[conf.CONF_NWK_KEY] = network_key
    return {
        conf.CONF_DEVICE: {conf.CONF_DEVICE_PATH: device_path},
        conf.CONF_DATABASE: database_path,
        conf.CONF_NWK: network,
        conf.CONF_NWK_BACKUP_ENABLED: False,
        conf.CONF_TOPO_SCAN_ENABLED: False,
        conf.CONF_WATCHDOG_ENABLED: False,
        conf.CONF_OTA: {
            conf.CONF_OTA_ENABLED: True,
            conf.CONF_OTA_BROADCAST_ENABLED: False,
            conf.CONF_OTA_PROVIDERS: [],
        },
    }
