"""The device conformance suite catches every known-bad device, and passes the good one.

``benchmarks/defect_matrix.py`` runs the suite from the package on the ESME of the emu bench,
once as it is and once with each defect it can have (a pytest process per run, virtual time);
each defect must fail the test written for it, and the good device must fail none. The same
script prints the matrix for people (README "Defects").
"""

from __future__ import annotations

import pytest

from fixture_files import BENCH_FILES, ROOT, script_module
from hanbench.devices.defects import Defect

defect_matrix = script_module(ROOT / "benchmarks" / "defect_matrix.py")

#: The test written to catch each defect (others may catch it too).
CAUGHT_BY = {
    Defect.IGNORES_WAIT_FOR_DATA: "test_a_storm_of_wait_for_data_is_waited_out_and_the_download_completes",
    Defect.RESTARTS_AFTER_LOST_BLOCK: "test_a_lost_block_is_asked_again_at_the_same_offset",
    Defect.OVERSIZED_BLOCK_REQUESTS: "test_blocks_asked_fit_the_server_and_smaller_answers_are_taken",
    Defect.RUNS_IMAGE_ON_UPGRADE_END: "test_an_upgrade_time_never_runs_the_image_without_cs06",
    Defect.ACCEPTS_BAD_SIGNATURE: "test_an_image_signed_by_another_party_is_refused_with_invalid_image_and_0x8f1c",
    Defect.SKIPS_MAC_CHECK: "test_a_cs06_without_the_acbs_mac_is_refused",
    Defect.SKIPS_COUNTER_CHECK: "test_a_cs06_under_a_counter_already_used_is_refused",
    Defect.VERSION_FROM_OTA_HEADER: "test_a_relabelled_header_is_refused_and_changes_nothing_the_device_reports",
    Defect.NEVER_SENDS_INVALID_IMAGE: "test_a_corrupt_block_ends_in_invalid_image_and_nothing_is_kept",
    Defect.FORGETS_FUTURE_DATED_ACTIVATION: "test_a_future_dated_activation_survives_a_power_cycle",
    Defect.QUERIES_WITHOUT_HARDWARE_VERSION:
        "test_an_image_for_other_hardware_is_not_offered_to_a_device_that_names_its_own",
    Defect.IGNORES_QUERY_JITTER: "test_a_broadcast_image_notify_is_answered_only_within_its_query_jitter",
    Defect.GIVES_UP_ON_WAIT_FOR_DATA: "test_a_storm_of_wait_for_data_is_waited_out_and_the_download_completes",
    Defect.APPENDS_DUPLICATE_BLOCKS: "test_duplicated_blocks_do_not_corrupt_the_image",
    Defect.CHECKS_HASH_BEFORE_DATE_TIME: "test_cs06_failing_two_checks_is_answered_by_the_first_in_gbcs_order",
    Defect.RESTORES_CANCELLED_ACTIVATION: "test_a_cancelled_future_dated_activation_never_runs",
    Defect.TAKES_PAGE_BLOCKS_AS_THEY_COME: "test_image_pages_are_spaced_as_asked_and_put_together_in_order",
}


def test_every_defect_has_the_test_written_for_it() -> None:
    assert set(CAUGHT_BY) == set(Defect)


@pytest.mark.timeout(900)  # eighteen pytest processes, two at a time, on a machine other runs share
def test_the_suite_fails_each_defective_device_by_its_test_and_passes_the_good_one() -> None:
    runs = defect_matrix.matrix(BENCH_FILES / "emu.toml", "esme", list(Defect), jobs=2)
    good, *defective = runs
    assert good.defect is None and good.failed == [], f"the good ESME fails {good.failed}"
    assert good.errored == [], f"the good ESME errors in {good.errored}"
    assert "passed" in good.outcomes.values() and len(good.outcomes) >= len(set(CAUGHT_BY.values()))
    for run in defective:
        assert CAUGHT_BY[run.defect] in run.failed, f"{run.label}: failed {run.failed or 'nothing'}"
    assert defect_matrix.verdicts(runs) == []
    table = defect_matrix.table(runs)
    assert all(f"`{d.value}`" in table for d in Defect)
