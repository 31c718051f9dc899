"""The device suite's Image Page test where a device downloads by pages.

No device of the project's bench files uses Image Page Requests, so there the test skips; here
the ESME of the emu bench is given ``image_page_size`` and the suite's page test runs on it from
the package, in a pytest process of its own (one bench file per process), as
``benchmarks/defect_matrix.py`` runs the suite. That it fails a device that puts a page
together wrong is in the defect matrix (``takes_an_image_pages_blocks_as_they_come``).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from fixture_files import BENCH_FILES, ROOT, script_module

defect_matrix = script_module(ROOT / "benchmarks" / "defect_matrix.py")

PAGE_TEST = "test_image_pages_are_spaced_as_asked_and_put_together_in_order"
PERIOD_TEST = "test_the_servers_minimum_block_period_is_kept_once_told"


@pytest.mark.timeout(300)
def test_the_page_test_runs_and_passes_on_a_device_that_downloads_by_pages(tmp_path: Path) -> None:
    bench = defect_matrix.bench_with(BENCH_FILES / "emu.toml", "esme", None, tmp_path, pages=True)
    assert "image_page_size = 256" in bench.read_text("utf-8")
    run = defect_matrix.run_suite(bench, "esme", None, tmp_path, keyword=f"{PAGE_TEST} or {PERIOD_TEST}")
    # A paging device asks per page and the CH keeps the period between a page's blocks itself:
    # the per-block period test does not apply to it, rather than failing a good device.
    assert run.outcomes == {PAGE_TEST: "passed", PERIOD_TEST: "skipped"}
