"""Image files: reads that name the file, writes that never leave half a file."""

from __future__ import annotations

from pathlib import Path

import pytest

from fixture_files import IMAGES
from hanbench.errors import BadInput
from hanbench.gbcs.image import build_image
from hanbench.image_files import read_image, write_image

PPMID_SAMPLE = IMAGES / "PPMID-121D-0084-00000002.ota"
FIRMWARE = b"bench firmware\n" * 100


def test_a_written_image_reads_back_equal(tmp_path: Path) -> None:
    image = build_image(FIRMWARE, manufacturer_code=1, image_type=2, file_version=3)
    write_image(tmp_path / "out.ota", image)
    assert read_image(tmp_path / "out.ota", signed=False) == image
    assert [p.name for p in tmp_path.iterdir()] == ["out.ota"]


def test_the_form_can_be_insisted_on() -> None:
    assert not read_image(PPMID_SAMPLE).is_signed
    with pytest.raises(BadInput, match=f"^{PPMID_SAMPLE}: "):
        read_image(PPMID_SAMPLE, signed=True)


def test_read_errors_name_the_file(tmp_path: Path) -> None:
    absent = tmp_path / "absent.ota"
    with pytest.raises(BadInput, match=f"^cannot read image {absent}: No such file or directory$"):
        read_image(absent)
    junk = tmp_path / "junk.ota"
    junk.write_bytes(b"not an image")
    with pytest.raises(BadInput, match=f"^{junk}: "):
        read_image(junk)


def test_write_is_atomic_a_failed_write_keeps_the_old_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "out.ota"
    out.write_bytes(b"old image")
    image = build_image(FIRMWARE, manufacturer_code=1, image_type=2, file_version=3)

    def fail(*_: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("hanbench.atomic_file.os.replace", fail)
    with pytest.raises(BadInput, match="No space left on device"):
        write_image(out, image)
    assert out.read_bytes() == b"old image"
    assert [p.name for p in tmp_path.iterdir()] == ["out.ota"], "the temporary file must be removed"
    monkeypatch.undo()
    write_image(out, image)
    assert out.read_bytes() == image.to_bytes()
