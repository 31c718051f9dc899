"""pytest plugin for hanbench: ``--bench``, kind markers, fixtures and the session record.

Registered through the ``pytest11`` entry point, so any project that installs hanbench gets it
without a conftest.

* ``--bench FILE`` (or the ini option ``hanbench_bench``; default ``bench/emu.toml`` under
  the rootdir) names the active bench.
* Markers: ``emu`` (needs the emulator: virtual time, fault injection) and ``hw`` (needs the
  hardware code path: a ``twin`` bench, which runs bellows and board control on emulated
  sticks and boards in CI, or a ``lab`` bench). A test that uses the bench and carries
  neither marker runs on any bench and is given the active bench's marker at collection
  (``emu`` on an emu bench, ``hw`` on twin and lab), so ``-m emu`` / ``-m hw`` select what
  will actually run there. A test marked for another kind is skipped with a reason naming
  the bench it needs and the active one.
* Fixtures: ``bench`` (a fresh premises per test), ``esme``, ``gsme``, ``hcalcs``, ``ppmid``,
  ``ihd``, ``comms_hub``, and the users ``supplier``, ``rsa``, ``other_user`` and
  ``supplier_b``; a fixture the bench cannot provide skips the test and says why.
* Async tests that use the bench run on a virtual-time loop on an emu bench (their async
  fixtures too), and on an ordinary loop otherwise.
* The run is one session in the bench's session record: every event of every test's
  premises (noted as that test's), and every bench test's outcome, with the clause it checks
  when it is marked ``@pytest.mark.clause("GBCS 11.2.6")`` (reports group tests by clause). It is opened (and the bench locked, see
  :mod:`hanbench.bench.lock`) once collection has selected a test that uses the bench, so
  runs that never touch a bench write nothing, and a bench in use fails the run at once.
* ``--hanbench-capture FILE`` writes every frame of every test's virtual air (emu and twin
  benches) to one pcap file, premises after premises (:mod:`hanbench.radio.capture`); it is
  opened with the session and appears under its name when the run ends.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
import pytest_asyncio

from hanbench.bench.bench import Bench, BenchDevice, open_bench, open_capture
from hanbench.bench.bench_config import BenchConfig, BenchKind, NotOnBench
from hanbench.bench.bench_file import load_bench
from hanbench.bench.events import EventStream
from hanbench.bench.kinds import kind_strategy
from hanbench.bench.lock import BenchLock
from hanbench.bench.record import Session, SessionOutcome, SessionRecord, TestOutcome
from hanbench.bench.users import BenchUser
from hanbench.clock import BenchClock, real_event_loop, virtual_event_loop
from hanbench.errors import HanbenchError
from hanbench.gbcs.device_types import DeviceType
from hanbench.gbcs.roles import Role
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
                    help=f"bench file to run on (default: ini {INI_BENCH}, else {DEFAULT_BENCH} under the rootdir)")
    group.addoption("--hanbench-capture", dest="hanbench_capture", metavar="FILE", default=None,
                    help="write every frame of the bench's virtual air to this pcap file (emu and twin benches)")
    parser.addini(INI_BENCH, "bench file for hanbench tests, relative to the ini file", default=None)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "hw: needs the hardware code path (a twin or lab bench)")
    config.addinivalue_line("markers", "emu: needs the emulator's controls (virtual time, fault injection)")
    config.addinivalue_line("markers", f"{CLAUSE}(text): the specification clause the test checks, for reports")
    run = config.stash[_RUN] = _Run(_bench_path(config), config.getoption("hanbench_capture"))
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
    return config.rootpath / DEFAULT_BENCH, str(DEFAULT_BENCH), False


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


@dataclasses.dataclass
class _Recording:
    lock: BenchLock
    record: SessionRecord
    session: Session
    events: EventStream
    clock: _RunClock
    capture: AirCapture | None


class _Run:
    """The active bench of a pytest run, loaded on first need, and the run's session record.

    Registered as a plugin of its own so that it sees every test report.
    """

    def __init__(self, where: tuple[Path, str, bool], capture: str | None) -> None:
        self.path, self.shown, self.chosen = where
        self.capture_path = capture
        #: How the run's capture ended, for the terminal summary (None: no capture was written).
        self.capture_report: str | None = None
        self._config: BenchConfig | None = None
        self.recording: _Recording | None = None
        self.bench_items: set[str] = set()
        self._tests: dict[str, _TestRecord] = {}

    @property
    def config(self) -> BenchConfig:
        if self._config is None:
            try:
                self._config = load_bench(self.path)
            except HanbenchError as exc:
                raise pytest.UsageError(f"hanbench: {exc}") from None
        return self._config

    @property
    def marker(self) -> str:
        return KIND_MARKERS[self.config.kind]

    @property
    def virtual_time(self) -> bool:
        try:
            return kind_strategy(self.config.kind).VIRTUAL_TIME
        except HanbenchError:
            return False  # the bench fixture reports the missing kind on use

    def open(self) -> _Recording:
        if self.recording is None:
            config = self.config
            lock = BenchLock(config.database_path).__enter__()
            capture = None if self.capture_path is None else open_capture(config, self.capture_path)
            record = SessionRecord(config.database_path)
            clock = _RunClock(config.start)
            session = record.start(config, clock)
            events = EventStream(clock)
            session.attach(events)
            self.recording = _Recording(lock, record, session, events, clock, capture)
        return self.recording

    def pytest_collection_finish(self, session: pytest.Session) -> None:
        """Take the bench and open the run's session as soon as a selected test will use it."""
        if session.config.option.collectonly or not any(i.nodeid in self.bench_items for i in session.items):
            return
        try:
            self.open()
        except HanbenchError as exc:
            raise pytest.UsageError(f"hanbench: {exc}") from None

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        """Fold one phase report of a bench test into its outcome; record it after teardown."""
        if report.nodeid not in self.bench_items:
            return
        test = self._tests.setdefault(report.nodeid, _TestRecord())
        test.fold(report)
        if report.when == "teardown":
            del self._tests[report.nodeid]
            clause = dict(report.user_properties).get(CLAUSE)
            self.open().session.record_test(report.nodeid, test.outcome, test.duration, test.message,
                                            clause=None if clause is None else str(clause))

    def finish(self, exitstatus: int) -> int | None:
        """Close the run's session; its ID, or None if no test used the bench."""
        if self.recording is None:
            return None
        outcome = {pytest.ExitCode.OK: SessionOutcome.PASSED,
                   pytest.ExitCode.TESTS_FAILED: SessionOutcome.FAILED}.get(exitstatus, SessionOutcome.ABORTED)
        failure = None if outcome is SessionOutcome.PASSED else f"pytest exit status {int(exitstatus)}"
        recording, self.recording = self.recording, None
        recording.session.finish(outcome, failure)
        recording.record.close()
        recording.lock.__exit__(None, None, None)
        if recording.capture is not None:
            self.capture_report = _close_capture(recording.capture)
        return recording.session.id

    def pytest_terminal_summary(self, terminalreporter: pytest.TerminalReporter) -> None:
        if self.capture_report is not None:
            terminalreporter.write_line(self.capture_report)


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
#: After the run: the session ID it recorded into, or None (``hanbench run`` reads it).
SESSION_ID = pytest.StashKey[int | None]()


def _run(config: pytest.Config) -> _Run:
    return config.stash[_RUN]


def _uses_bench(item: pytest.Item) -> bool:
    """Whether ``item`` uses this plugin's ``bench`` fixture (not some other fixture of that name)."""
    info = getattr(item, "_fixtureinfo", None)
    definitions = info.name2fixturedefs.get("bench", ()) if info is not None else ()
    return bool(definitions) and getattr(definitions[-1].func, "__module__", None) == __name__


# -- collection: kind markers and skips ----------------------------------------------------------


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Give bench tests the active kind's marker before ``-m`` selects, and skip the misfits."""
    run = _run(config)
    for item in items:
        wanted = {m.name for m in item.iter_markers() if m.name in _NEEDS}
        if not wanted and not _uses_bench(item):
            continue
        run.bench_items.add(item.nodeid)
        clause = item.get_closest_marker(CLAUSE)
        if clause is not None and clause.args:
            item.user_properties.append((CLAUSE, str(clause.args[0])))
        if not wanted:
            item.add_marker(run.marker)
        elif run.marker not in wanted:
            need = " or ".join(_NEEDS[m] for m in sorted(wanted))
            item.add_marker(pytest.mark.skip(
                reason=f"needs {need}; active bench {run.shown} is {run.config.kind}"))


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
    with recording.session.running(request.node.nodeid):
        async with open_bench(run.config, events=recording.events, session=recording.session,
                              capture=recording.capture) as opened:
            recording.clock.current = opened.clock
            try:
                yield opened
            finally:
                recording.clock()  # keep the last reading for events published between tests
                recording.clock.current = None


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
