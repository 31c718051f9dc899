"""pytest plugin for hanbench: ``--bench``, kind markers, fixtures and the session record.

Registered through the ``pytest11`` entry point, so any project that installs hanbench gets it
without a conftest.

* ``--bench FILE`` (or the ini option ``hanbench_bench``; default ``bench/emu.toml`` under
  the rootdir, else the embedded emu bench the package ships) names the active bench.
* Markers: ``emu`` (needs the emulator: virtual time, fault injection) and ``hw`` (needs the
  hardware code path: a ``twin`` bench, which runs bellows and board control on emulated
  sticks and boards in CI, or a ``lab`` bench). A test that uses the bench and carries
  neither marker runs on any bench and is given the active bench's marker at collection
  (``emu`` on an emu bench, ``hw`` on twin and lab), so ``-m emu`` / ``-m hw`` select what
  will actually run there. A test marked for another kind is skipped with a reason naming
  the bench it needs and the active one.
* Fixtures: ``bench`` (a fresh premises per test), ``esme``, ``gsme``, ``hcalcs``, ``ppmid``,
  ``ihd``, the Alt HAN bridges ``b1`` to ``b4``, ``comms_hub``, and the users ``supplier``,
  ``rsa``, ``other_user`` and ``supplier_b``; a fixture the bench cannot provide skips the
  test and says why. ``@pytest.mark.alt_han_option("B")`` runs the test's premises with its
  bridges under that MP170 option rather than the bench file's.
* Async tests that use the bench run on a virtual-time loop on an emu bench (their async
  fixtures too), and on an ordinary loop otherwise.
* The run is one session in the bench's session record: every event of every test's
  premises (noted as that test's), and every bench test's outcome, with the clause it checks
  when it is marked ``@pytest.mark.clause("GBCS 11.2.6")`` (reports group tests by clause).
  It is opened (and the bench locked, see :mod:`hanbench.bench.lock`) once collection has
  selected a test that uses the bench, so runs that never touch a bench write nothing, and a
  bench in use fails the run at once.
* The device conformance suite's fixtures: ``device_under_test``, each device of the bench in
  turn (one test per device), or the one ``--hanbench-device NAME`` names; and
  ``image_under_test``, the bytes of ``--hanbench-image FILE``, else the bench's sample image of
  the next version for that device. ``--hanbench-validation FILE`` (JSON, as ``hanbench
  validate`` writes it) is recorded into the run's session, so its report holds the static
  checks beside the tests.
* ``--hanbench-progress`` draws one live line per image transfer on the controlling terminal
  (:mod:`hanbench.bench.progress`); ``hanbench run`` and ``validate`` pass it on a terminal.
* ``--hanbench-capture FILE`` writes every frame of every test's virtual air (emu and twin
  benches) to one pcap file, premises after premises (:mod:`hanbench.radio.capture`); it is
  opened with the session and appears under its name when the run ends.
* ``--hanbench-sessions DIR`` keeps the session record and the premises' state under ``DIR``
  instead of the bench file's ``sessions`` folder (a test suite points it at its temporary
  folder, so a run writes nothing into the checkout).
* A failing bench test's report says how to run it alone: the test, the bench file and the
  bench's seed.
* Under pytest-xdist (``-n N``) the controller holds the bench and records the run's one
  session; each worker keeps its premises apart (:mod:`hanbench.pytest_workers`).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import datetime as dt
import json
import sys
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from rich.console import Console

from hanbench.bench.bench import Bench, BenchDevice, open_bench, open_capture
from hanbench.bench.bench_config import BenchConfig, BenchKind, NotOnBench
from hanbench.bench.bench_file import default_bench_file, load_bench
from hanbench.bench.readiness import check_one_premises, check_ready
from hanbench.bench.events import EventStream
from hanbench.bench.progress import TransferProgress, terminal
from hanbench.bench.report.build import entity_names
from hanbench.bench.kinds import kind_strategy
from hanbench.bench.lab_place import bench_on_place
from hanbench.bench.lock import BenchLock
from hanbench.bench.record import Session, SessionOutcome, SessionRecord, TestOutcome
from hanbench.bench.users import BenchUser
from hanbench.bench.waits import in_progress
from hanbench.clock import BenchClock, real_event_loop, virtual_event_loop
from hanbench.errors import HanbenchError
from hanbench.gbcs.alt_han import AltHanOption
from hanbench.gbcs.device_types import DeviceType, PpmidVariant
from hanbench.gbcs.image_types import NEXT_FILE_VERSION
from hanbench.gbcs.roles import Role
from hanbench.pytest_workers import WorkerPart, hand_over, is_controller, on_worker, refuse_on_workers, worker_id
from hanbench.radio.capture import AirCapture

DEFAULT_BENCH = Path("bench") / "emu.toml"
#: The marker naming the clause a test checks; also the test's user property that carries it.
CLAUSE = "clause"
INI_BENCH = "hanbench_bench"

#: The marker a test for each kind of bench carries.
KIND_MARKERS: dict[BenchKind, str] = {BenchKind.EMU: "emu", BenchKind.TWIN: "hw", BenchKind.LAB: "hw"}
_NEEDS = {
    "emu": "an emu bench (virtual time, fault injection)",
    "hw": "a hardware bench (twin or lab: the radio and board code path)",
}


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("hanbench", "hanbench bench")
    group.addoption("--bench", dest="hanbench_bench", metavar="FILE", default=None,
                    help=f"bench file to run on (default: ini {INI_BENCH}, else {DEFAULT_BENCH} under the rootdir, "
                         "else the embedded emu bench)")
    group.addoption("--hanbench-capture", dest="hanbench_capture", metavar="FILE", default=None,
                    help="write every frame of the bench's virtual air to this pcap file (emu and twin benches)")
    group.addoption("--hanbench-sessions", dest="hanbench_sessions", metavar="DIR", default=None,
                    help="keep session records and premises state under DIR instead of the bench file's sessions")
    group.addoption("--hanbench-device", dest="hanbench_device", metavar="NAME", default=None,
                    help="the device the device conformance suite tests (default: each device of the bench)")
    group.addoption("--hanbench-image", dest="hanbench_image", metavar="FILE", default=None,
                    help="the image the device conformance suite delivers (default: the bench's sample image)")
    group.addoption("--hanbench-validation", dest="hanbench_validation", metavar="FILE", default=None,
                    help="a validation (JSON, from hanbench validate) to record into the run's session")
    group.addoption("--hanbench-progress", dest="hanbench_progress", action="store_true", default=False,
                    help="draw a live progress line per image transfer on the controlling terminal")
    parser.addini(INI_BENCH, "bench file for hanbench tests, relative to the ini file", default=None)


def pytest_configure(config: pytest.Config) -> None:
    # The shipped suites' helper modules (flows...) are imported by their tests, not collected:
    # rewrite their asserts too, so a failing step says what it compared.
    pytest.register_assert_rewrite("hanbench.suites")
    config.addinivalue_line("markers", "hw: needs the hardware code path (a twin or lab bench)")
    config.addinivalue_line("markers", "emu: needs the emulator's controls (virtual time, fault injection)")
    config.addinivalue_line("markers", f"{CLAUSE}(text): the specification clause the test checks, for reports")
    config.addinivalue_line("markers", f"{ALT_HAN_OPTION}(option): run the bench's Alt HAN bridges under MP170 option "
                                       "A or B instead of the bench file's (skipped on a bench without bridges)")
    run = config.stash[_RUN] = _Run(config, _bench_path(config))
    config.pluginmanager.register(run, "hanbench-run")
    if run.chosen:
        run.config  # a bench the user named must load before anything runs: a usage error otherwise


def _bench_path(config: pytest.Config) -> tuple[Path, str, bool]:
    """The bench file, how to show it (as the user wrote it), and whether the user chose it."""
    given: str | None = config.getoption("hanbench_bench")
    if given:
        return Path(given).resolve(), given, True
    ini = config.getini(INI_BENCH)
    if ini:
        base = config.inipath.parent if config.inipath is not None else config.rootpath
        return (base / str(ini)).resolve(), str(ini), True
    if (config.rootpath / DEFAULT_BENCH).is_file():
        return config.rootpath / DEFAULT_BENCH, str(DEFAULT_BENCH), False
    return default_bench_file(), "the embedded emu bench", False


# -- the active bench and the run's session ----------------------------------------------------


class _RunClock:
    """The bench clock of whichever test's bench is open, for the run's event stream."""

    def __init__(self, start: dt.datetime) -> None:
        self.current: BenchClock | None = None
        self._last = start

    def __call__(self) -> dt.datetime:
        if self.current is not None:
            self._last = self.current.now()
        return self._last


    def advance_to(self, at: dt.datetime) -> None:
        """Take ``at`` as the last reading if it is later (events merged from elsewhere)."""
        self._last = max(self._last, at)


@dataclasses.dataclass
class _Recording:
    config: BenchConfig
    record: SessionRecord
    session: Session
    events: EventStream
    clock: _RunClock
    capture: AirCapture | None


class _Run:
    """The active bench of a pytest run, loaded on first need, and the run's session record.

    Registered as a plugin of its own so that it sees every test report. In an xdist
    controller it holds the bench from the start and records the reports its workers send;
    in a worker, or a run without workers, it opens the session when a test first needs it.
    """

    def __init__(self, pytest_config: pytest.Config, where: tuple[Path, str, bool]) -> None:
        self.path, self.shown, self.chosen = where
        self._pytest_config = pytest_config
        self.capture_path: str | None = pytest_config.getoption("hanbench_capture")
        self.worker = worker_id(pytest_config)
        #: How the run's capture ended, for the terminal summary (None: no capture was written).
        self.capture_report: str | None = None
        self._config: BenchConfig | None = None
        self._lock: BenchLock | None = None
        self._held = contextlib.ExitStack()  # the labgrid place, while the run holds it
        self.recording: _Recording | None = None
        self.bench_items: set[str] = set()
        self._tests: dict[str, _TestRecord] = {}
        self._parts: list[WorkerPart] = []
        #: The hanbench error that stopped the run before its tests (``hanbench run`` exits with its code)
        self.aborted_by: HanbenchError | None = None
        self.interrupted = False
        #: The live progress on the terminal, with ``--hanbench-progress`` (None: not shown).
        self.progress: TransferProgress | None = None

    @property
    def config(self) -> BenchConfig:
        """The bench file as written."""
        if self._config is None:
            try:
                self._config = load_bench(self.path)
                check_one_premises(self._config)
                check_ready(self._config)
            except HanbenchError as exc:
                raise self._usage_error(exc) from None
        return self._config

    def premises_config(self) -> BenchConfig:
        """The bench this process records into and assembles: its sessions moved by
        ``--hanbench-sessions`` (read when the session opens, after every conftest), and into
        the worker's own folder in an xdist worker."""
        config = self.config
        sessions = self._pytest_config.getoption("hanbench_sessions")
        if sessions is not None:
            config = dataclasses.replace(config, sessions=Path(sessions).resolve())
        return config if self.worker is None else on_worker(config, self.worker)

    @property
    def marker(self) -> str:
        return KIND_MARKERS[self.config.kind]

    @property
    def virtual_time(self) -> bool:
        try:
            return kind_strategy(self.config.kind).VIRTUAL_TIME
        except HanbenchError:
            return False  # the bench fixture reports the missing kind on use

    def hold(self, config: BenchConfig) -> None:
        """Take the bench's lock (once); a bench in use elsewhere is a usage error naming its holder."""
        if self._lock is None:
            try:
                self._lock = BenchLock(config.database_path).__enter__()
            except HanbenchError as exc:
                raise self._usage_error(exc) from None

    def open(self) -> _Recording:
        """The run's session, opened on first need: the bench's labgrid place if it names one
        (waited for while another run holds it), then the bench's lock, then the session record."""
        if self.recording is None:
            config = self._held.enter_context(bench_on_place(self.premises_config(), say=self._say))
            self.hold(config)
            capture = None if self.capture_path is None else open_capture(config, self.capture_path)
            record = SessionRecord(config.database_path)
            clock = _RunClock(config.start)
            session = record.start(config, clock)
            validation = self._pytest_config.getoption("hanbench_validation")
            if validation is not None:
                session.record_validation(json.loads(Path(validation).read_text("utf-8")))
            events = EventStream(clock)
            session.attach(events)
            self._show_progress(config, events, clock)
            self.recording = _Recording(config, record, session, events, clock, capture)
        return self.recording

    @pytest.hookimpl(tryfirst=True)
    def pytest_sessionstart(self, session: pytest.Session) -> None:
        """An xdist controller takes the bench before any worker starts: a bench in use fails the run now."""
        if not is_controller(session.config) or not (self.chosen or (session.config.rootpath / DEFAULT_BENCH).is_file()):
            return
        refuse_on_workers(self.config, self.shown, self.capture_path)
        self.hold(self.premises_config())

    def pytest_collection_finish(self, session: pytest.Session) -> None:
        """Take the bench and open the run's session as soon as a selected test will use it.

        A worker leaves that to the ``bench`` fixture: an error raised in a worker's
        collection hook would leave xdist waiting for that worker for ever.
        """
        if session.config.option.collectonly or not any(i.nodeid in self.bench_items for i in session.items):
            return
        if self.worker is None:
            try:
                self.open()
            except HanbenchError as exc:
                raise self._usage_error(exc) from None

    def _show_progress(self, config: BenchConfig, events: EventStream, clock: _RunClock) -> None:
        """With ``--hanbench-progress``, in the process that runs the tests, on a terminal: the
        test running and a live line per transfer, until the run finishes; rates over bench
        time on a virtual-time bench."""
        if not self._pytest_config.getoption("hanbench_progress") or self.worker is not None:
            return
        tty = terminal()
        if tty is None:
            return
        self._held.callback(tty.close)
        bench_time = (lambda: clock().timestamp()) if self.virtual_time else None
        self.progress = self._held.enter_context(TransferProgress(
            Console(file=tty, force_terminal=True), entity_names(config), bench_time=bench_time))
        self._held.callback(events.subscribe(self.progress))

    def pytest_runtest_logstart(self, nodeid: str) -> None:
        """The live progress names each test as it starts."""
        if self.progress is not None:
            self.progress.test_started(nodeid.rpartition("::")[2])

    def _usage_error(self, exc: HanbenchError) -> pytest.UsageError:
        """What stops the run before its tests: pytest's usage error, the cause kept for its exit
        code. A caller that reports the cause itself (:data:`CALLER_REPORTS_ERRORS`) gets one
        without a message, which pytest prints nothing for."""
        self.aborted_by = exc
        if self._pytest_config.stash.get(CALLER_REPORTS_ERRORS, False):
            return pytest.UsageError()
        return pytest.UsageError(f"hanbench: {exc}")

    def pytest_keyboard_interrupt(self) -> None:
        self.interrupted = True

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        """Fold one phase report of a bench test into its outcome; record it after teardown."""
        if not getattr(report, _BENCH_TEST, False):
            return
        test = self._tests.setdefault(report.nodeid, _TestRecord())
        test.fold(report)
        if report.when == "teardown":
            del self._tests[report.nodeid]
            clause = dict(report.user_properties).get(CLAUSE)
            self.open().session.record_test(report.nodeid, test.outcome, test.duration, test.message,
                                            clause=None if clause is None else str(clause))

    @pytest.hookimpl(optionalhook=True)
    def pytest_testnodedown(self, node: Any, error: object) -> None:
        """xdist, in the controller: a worker ended; keep the session it recorded its part into."""
        part = WorkerPart.from_output(getattr(node, "workeroutput", {}))
        if part is not None:
            self._parts.append(part)

    def finish(self, exitstatus: int) -> int | None:
        """Close the run's session; its ID, or None if no test used the bench."""
        recording, self.recording = self.recording, None
        session_id = None if recording is None else self._close(recording, exitstatus)
        if self._lock is not None:
            self._lock.__exit__(None, None, None)
            self._lock = None
        self._held.close()  # the place last: a run waiting for it then finds the bench's lock free
        return session_id

    def _close(self, recording: _Recording, exitstatus: int) -> int:
        outcome = {pytest.ExitCode.OK: SessionOutcome.PASSED,
                   pytest.ExitCode.TESTS_FAILED: SessionOutcome.FAILED}.get(exitstatus, SessionOutcome.ABORTED)
        failure = None if outcome is SessionOutcome.PASSED else f"pytest exit status {int(exitstatus)}"
        if self.interrupted:
            outcome, failure = SessionOutcome.INTERRUPTED, "interrupted (Ctrl-C) before the run finished"
        for part in sorted(self._parts, key=lambda p: p.worker):
            with SessionRecord(part.database) as source:
                last = recording.session.take_events(source, part.session_id, worker=part.worker)
            if last is not None:
                recording.clock.advance_to(last)
        recording.session.finish(outcome, failure)
        recording.record.close()
        if recording.capture is not None:
            self.capture_report = _close_capture(recording.capture)
        if self.worker is not None:
            hand_over(self._pytest_config, WorkerPart(self.worker, recording.config.database_path,
                                                      recording.session.id))
        return recording.session.id

    def _say(self, line: str) -> None:
        """A line the user must see while the run waits (for a labgrid place), whatever pytest captures."""
        reporter = self._pytest_config.pluginmanager.get_plugin("terminalreporter")
        if reporter is None:
            print(line, file=sys.stderr, flush=True)
        else:
            reporter.write_line(line, flush=True)

    def pytest_terminal_summary(self, terminalreporter: pytest.TerminalReporter) -> None:
        if self.capture_report is not None:
            terminalreporter.write_line(self.capture_report)

    def reproduce(self, nodeid: str) -> str:
        """How to run one bench test alone, as its failure report says."""
        config = self.config
        return (f"pytest '{nodeid}' --bench {self.shown}\n"
                f"(bench {config.name!r}, {config.kind} kind, seed {config.seed}, starting {config.start.isoformat()})")


def _close_capture(capture: AirCapture) -> str:
    """Close the run's capture; one line saying where it is, or why there is none."""
    try:
        capture.close()
    except HanbenchError as exc:
        return f"hanbench: no air capture: {exc}"
    longer = f" ({capture.oversized} longer than an 802.15.4 frame, unfragmented)" if capture.oversized else ""
    return f"hanbench: air capture of {capture.frames} frames{longer} in {capture.path}"


@dataclasses.dataclass
class _TestRecord:
    outcome: TestOutcome = TestOutcome.PASSED
    duration: float = 0.0
    message: str | None = None

    def fold(self, report: pytest.TestReport) -> None:
        self.duration += report.duration
        if report.when == "call" and hasattr(report, "wasxfail"):
            self.outcome = TestOutcome.XFAILED if report.skipped else TestOutcome.XPASSED
        elif report.skipped:
            self.outcome = TestOutcome.SKIPPED
            self.message = _skip_reason(report)
        elif report.failed:
            self.outcome = TestOutcome.FAILED if report.when == "call" else TestOutcome.ERROR
            self.message = _failure_line(report)


def _skip_reason(report: pytest.TestReport) -> str:
    longrepr = report.longrepr
    if isinstance(longrepr, tuple) and len(longrepr) == 3:
        return str(longrepr[2]).removeprefix("Skipped: ")
    return str(longrepr)


def _failure_line(report: pytest.TestReport) -> str:
    crash = getattr(report.longrepr, "reprcrash", None)
    return str(crash.message if crash is not None else report.longreprtext)[:2000]


_RUN = pytest.StashKey[_Run]()
#: Set on the report of every phase of a bench test (it travels with the report to an xdist controller).
_BENCH_TEST = "hanbench_bench_test"
#: After the run: the session ID it recorded into, or None (``hanbench run`` reads it).
SESSION_ID = pytest.StashKey[int | None]()
#: Set (to True) by a caller of ``pytest.main`` that prints the error which stopped the run
#: itself, from :func:`run_outcome` (``hanbench run``'s one ``error:`` line), so that the
#: message is not printed twice.
CALLER_REPORTS_ERRORS = pytest.StashKey[bool]()


def _run(config: pytest.Config) -> _Run:
    return config.stash[_RUN]


def run_outcome(config: pytest.Config) -> tuple[HanbenchError | None, bool]:
    """After the run: the hanbench error that stopped it early, and whether Ctrl-C ended it."""
    run = config.stash.get(_RUN, None)
    return (None, False) if run is None else (run.aborted_by, run.interrupted)


def _uses_bench(item: pytest.Item) -> bool:
    """Whether ``item`` uses this plugin's ``bench`` fixture (not some other fixture of that name)."""
    info = getattr(item, "_fixtureinfo", None)
    definitions = info.name2fixturedefs.get("bench", ()) if info is not None else ()
    return bool(definitions) and getattr(definitions[-1].func, "__module__", None) == __name__


# -- collection: kind markers and skips ----------------------------------------------------------


# How much longer than the bench's longest wait the test runner waits, on a real-time bench:
# the bench's own timeout, with its typed message, always fires first
RUNNER_TIMEOUT_MARGIN_S = 30.0


def _runner_timeout(item: pytest.Item, bench: BenchConfig) -> pytest.MarkDecorator | None:
    """A pytest-timeout marker for a bench test, when the runner's timeout (the test's
    marker, else the ini's) would not outlast every wait of a real-time bench."""
    waits = [getattr(bench.timing, field.name) for field in dataclasses.fields(bench.timing)
             if field.name.endswith("_s")]
    if bench.radio is not None:  # a hung stick is reported, then brought back, within these
        waits.append(bench.radio.probe_interval_s + bench.radio.probe_timeout_s + bench.radio.reconnect_timeout_s)
    longest = max(waits)
    marker = item.get_closest_marker("timeout")
    configured = float(marker.args[0]) if marker is not None and marker.args else float(
        item.config.getini("timeout") or 0)
    if configured == 0 or configured > longest:
        return None
    return pytest.mark.timeout(longest + RUNNER_TIMEOUT_MARGIN_S)


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Give bench tests the active kind's marker before ``-m`` selects, skip the misfits, and
    on a real-time bench let the runner's timeout outlast the bench's waits."""
    run = _run(config)
    for item in items:
        wanted = {m.name for m in item.iter_markers() if m.name in _NEEDS}
        if not wanted and not _uses_bench(item):
            continue
        run.bench_items.add(item.nodeid)
        clause = item.get_closest_marker(CLAUSE)
        if clause is not None and clause.args:
            item.user_properties.append((CLAUSE, str(clause.args[0])))
        if not run.virtual_time and (timeout := _runner_timeout(item, run.config)) is not None:
            item.add_marker(timeout)
        if not wanted:
            item.add_marker(run.marker)
        elif run.marker not in wanted:
            need = " or ".join(_NEEDS[m] for m in sorted(wanted))
            item.add_marker(pytest.mark.skip(
                reason=f"needs {need}; active bench {run.shown} is {run.config.kind}"))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """Mark a bench test's report, and add to a failed one how to run the test alone and,
    when the test runner's timeout fired, which bench wait it cut short."""
    report: pytest.TestReport = yield
    if report.failed and call.excinfo is not None and "Timeout" in str(call.excinfo.value) and in_progress():
        waits = "; ".join(wait.describe() for wait in in_progress())
        report.longrepr = f"{report.longreprtext}\nhanbench: bench wait in progress: {waits}"
    run = _run(item.config)
    if item.nodeid in run.bench_items:
        setattr(report, _BENCH_TEST, True)
        if report.failed:
            report.sections.append(("hanbench: run it alone", run.reproduce(item.nodeid)))
    return report


@pytest.hookimpl(trylast=True)
def pytest_asyncio_loop_factories(config: pytest.Config, item: pytest.Item) -> dict[str, Callable[[], asyncio.AbstractEventLoop]]:
    """Virtual time for bench tests on an emu bench; an ordinary loop for everything else."""
    if _uses_bench(item) and _run(config).virtual_time:
        return {"virtual": virtual_event_loop}
    return {"asyncio": real_event_loop}


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    session.config.stash[SESSION_ID] = _run(session.config).finish(exitstatus)


# -- fixtures ---------------------------------------------------------------------------------


@pytest_asyncio.fixture
async def bench(request: pytest.FixtureRequest) -> AsyncIterator[Bench]:
    """The active bench, freshly assembled for this test and shut down after it."""
    run = _run(request.config)
    recording = run.open()
    config = _with_alt_han_option(recording.config, request.node.get_closest_marker(ALT_HAN_OPTION))
    with recording.session.running(request.node.nodeid):
        async with open_bench(config, events=recording.events, session=recording.session,
                              capture=recording.capture) as opened:
            recording.clock.current = opened.clock
            try:
                yield opened
            finally:
                recording.clock()  # keep the last reading for events published between tests
                recording.clock.current = None


ALT_HAN_OPTION = "alt_han_option"


def _with_alt_han_option(config: BenchConfig, marker: pytest.Mark | None) -> BenchConfig:
    """The bench's premises with its bridges under the option a test asks for (MP170)."""
    if marker is None:
        return config
    option = AltHanOption.parse(str(marker.args[0]))
    if not config.devices_of(DeviceType.ALT_HAN):
        pytest.skip(f"shows MP170 option {option}, which needs Alt HAN bridges on the bench; active bench "
                    f"{config.file.name} has none (bench/althan.toml has)")
    return dataclasses.replace(config, alt_han=dataclasses.replace(config.alt_han, option=option))


def _bridge_fixture(variant: PpmidVariant) -> Callable[[Bench], BenchDevice]:
    name = variant.value.lower()

    def fixture(bench: Bench) -> BenchDevice:
        bridge = bench.config.bridge(variant)
        if bridge is None:
            pytest.skip(f"needs an Alt HAN {variant} on the bench; active bench {bench.config.file.name} has none")
        return bench.device(bridge.name)

    fixture.__name__ = name
    fixture.__doc__ = f"The bench's Alt HAN {variant} (the test is skipped if it has none)."
    return pytest.fixture(name=name)(fixture)


b1, b2, b3, b4 = (_bridge_fixture(variant) for variant in PpmidVariant.bridges())


def _device_fixture(device_type: DeviceType) -> Callable[[Bench], BenchDevice]:
    def fixture(bench: Bench) -> BenchDevice:
        if not bench.has_device(device_type):
            pytest.skip(f"needs a {device_type.value} on the bench; active bench {bench.config.file.name} has none")
        return bench.device(device_type.value)

    fixture.__name__ = device_type.value
    fixture.__doc__ = f"The bench's {device_type.value.upper()} (the test is skipped if it has none)."
    return pytest.fixture(name=device_type.value)(fixture)


esme = _device_fixture(DeviceType.ESME)
gsme = _device_fixture(DeviceType.GSME)
hcalcs = _device_fixture(DeviceType.HCALCS)
ppmid = _device_fixture(DeviceType.PPMID)
ihd = _device_fixture(DeviceType.IHD)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """A test of ``device_under_test`` runs once per device of the bench, or for the one
    ``--hanbench-device`` names (an unknown name is a usage error)."""
    if "device_under_test" not in metafunc.fixturenames:
        return
    run = _run(metafunc.config)
    given: str | None = metafunc.config.getoption("hanbench_device")
    try:
        names = [run.config.device(given).name] if given else [d.name for d in run.config.devices]
    except HanbenchError as exc:
        raise run._usage_error(exc) from None
    metafunc.parametrize("device_under_test", names, indirect=True, ids=names)


@pytest.fixture
def device_under_test(request: pytest.FixtureRequest, bench: Bench) -> BenchDevice:
    """The device the device conformance suite tests (see :func:`pytest_generate_tests`)."""
    return bench.device(request.param)


@pytest.fixture
def image_under_test(request: pytest.FixtureRequest, bench: Bench, device_under_test: BenchDevice) -> bytes:
    """The image delivered to ``device_under_test``: ``--hanbench-image``, else the bench's
    sample image of the next version for its type."""
    given: str | None = request.config.getoption("hanbench_image")
    return bench.read_image(Path(given)) if given else bench.image(device_under_test, NEXT_FILE_VERSION)


@pytest.fixture
def comms_hub(bench: Bench) -> object:
    """The bench's Comms Hub object (``CommsHub`` on emu)."""
    return bench.comms_hub


def _user_or_skip(find: Callable[[], BenchUser]) -> BenchUser:
    try:
        return find()
    except NotOnBench as exc:
        pytest.skip(str(exc))


@pytest.fixture
def supplier(bench: Bench) -> BenchUser:
    """The responsible supplier of the bench's devices: signs their images and CS06."""
    return _user_or_skip(lambda: bench.supplier)


@pytest.fixture
def rsa(bench: Bench, supplier: BenchUser) -> BenchUser:
    """The RSA ``supplier`` appointed (MP207)."""
    return _user_or_skip(lambda: bench.rsa_of(supplier))


@pytest.fixture
def other_user(bench: Bench) -> BenchUser:
    """A user with role other_user."""
    return _user_or_skip(lambda: bench.user_with(Role.OTHER_USER))


@pytest.fixture
def supplier_b(bench: Bench, supplier: BenchUser) -> BenchUser:
    """A second supplier, responsible for none of the devices."""
    return _user_or_skip(lambda: bench.other_supplier(supplier))
