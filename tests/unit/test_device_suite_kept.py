"""The device suite's own judgement of what a device kept (``kept``), on stand-in devices:
a wrong verdict there passes a device that kept nothing."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from fixture_files import sample, sample_bytes
from hanbench.bench.premises import DeviceState
from hanbench.gbcs.device_types import DeviceType
from hanbench.suites.device.test_ota_client import kept

D = DeviceType


def device(kind: DeviceType, *, running: bytes | None, held: bytes | None) -> SimpleNamespace:
    state = DeviceState(running_version=2 if running else 1, running_hash=running,
                        held_version=2 if held else None, held_hash=held, pending_activation_at=None)
    return SimpleNamespace(name=kind.value, type=kind, state=state)


@pytest.mark.parametrize("kind", [D.ESME, D.GSME, D.HCALCS])
def test_a_cs06_device_that_kept_nothing_fails_even_when_it_runs_the_image(kind: DeviceType) -> None:
    image = sample_bytes(kind)
    digest = sample(kind).manufacturer_image_hash
    kept(device(kind, running=None, held=digest), image)  # type: ignore[arg-type]
    with pytest.raises(AssertionError, match="holds none .* a CS06 names the hash of the image to activate"):
        kept(device(kind, running=digest, held=None), image)  # type: ignore[arg-type]


@pytest.mark.parametrize("kind", [D.PPMID, D.IHD])
def test_a_device_activated_at_once_may_run_the_image_instead(kind: DeviceType) -> None:
    image = sample_bytes(kind)
    digest = sample(kind).manufacturer_image_hash
    kept(device(kind, running=digest, held=None), image)  # type: ignore[arg-type]
    kept(device(kind, running=None, held=digest), image)  # type: ignore[arg-type]
    with pytest.raises(AssertionError, match="not the image's hash"):
        kept(device(kind, running=None, held=None), image)  # type: ignore[arg-type]
