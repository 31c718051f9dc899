"""A lab bench on a labgrid place, proven on this machine without hardware.

A real labgrid coordinator and exporter run here, on loopback only. The exporter exports the
pseudo-terminals of a :class:`~hanbench.twin.lab_rig.LabRig` (an EZSP twin for the stick, an
emulated board per device, devices that join by themselves) as ``RawSerialPort`` resources,
which it serves through ser2net over RFC 2217 once a place holding them is acquired. The
place is set up with ``labgrid-client`` as a lab's administrator would. Then ``hanbench run``
on a bench file that names only the place acquires it, opens the stick and the boards over
the network and runs the conformance suite; a second run on the place waits for the first.

Needs labgrid (``pip install 'hanbench[labgrid]'``, ``make test-labgrid``) and, for the
exporter, ser2net (Debian package ``ser2net``, which ``.ci/run`` installs); each test says
which one it is missing when it skips.
"""

from __future__ import annotations

import asyncio
import contextlib
import http.server
import importlib.metadata
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import pytest_asyncio

pytest.importorskip("labgrid", reason="labgrid is not installed: pip install 'hanbench[labgrid]' (make test-labgrid)")

from hanbench.bench.bench_config import PLACE_RADIO  # noqa: E402
from hanbench.bench.bench_file import load_bench  # noqa: E402
from hanbench.devices import DeviceSettings, GsmeTiming  # noqa: E402
from hanbench.gbcs.keystore import KeyStore  # noqa: E402
from hanbench.hardware.control import BoardControl, BoardTimeout, PortVanished  # noqa: E402
from hanbench.hardware.labgrid_place import PlaceBusy, PlaceProblem, acquired_place  # noqa: E402
from hanbench.hardware.power import PowerFault, power_from_config  # noqa: E402
from hanbench.twin.lab_rig import LabRig, RigDevice  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
TWIN = ROOT / "bench" / "twin.toml"
BIN = Path(sys.executable).parent
PLACE = "gb-bench-3"
EXPORTER = "twin-host"
#: The conformance tests CI runs on a lab bench (tests/unit/bench/test_lab_kind.py), and how they end
#: there: the GSME wake-cycle one needs an emu bench's virtual time.
LAB_SUITE, LAB_OUTCOME = "test_whole_flow", "4 passed, 1 skipped"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_listening(port: int, process: subprocess.Popen[bytes], log: Path, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"{process.args} exited with {process.returncode}:\n{log.read_text()}")
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    pytest.fail(f"{process.args} did not listen on {port} within {timeout} s:\n{log.read_text()}")


def stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def client(coordinator: str, *args: str) -> str:
    """``labgrid-client`` as a lab administrator runs it."""
    done = subprocess.run([str(BIN / "labgrid-client"), "-x", coordinator, *args],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, f"labgrid-client {' '.join(args)}: {done.stdout}{done.stderr}"
    return done.stdout


@pytest.fixture
def coordinator(tmp_path: Path) -> Iterator[str]:
    """A labgrid coordinator on a free loopback port (it keeps its places in its working folder)."""
    folder = tmp_path / "coordinator"
    folder.mkdir()
    port = free_port()
    log = folder / "log.txt"
    with log.open("wb") as out:
        process = subprocess.Popen([str(BIN / "labgrid-coordinator"), "-l", f"127.0.0.1:{port}"], cwd=folder,
                                   stdout=out, stderr=subprocess.STDOUT)
    try:
        wait_listening(port, process, log)
        yield f"127.0.0.1:{port}"
    finally:
        stop(process)


@pytest_asyncio.fixture
async def rig(tmp_path: Path) -> AsyncIterator[LabRig]:
    config = load_bench(TWIN)
    devices = [RigDevice(entry.name, entry.type, DeviceSettings(
                   entity_id=entry.id, nwk=0x1000 + index, supplier=entry.responsible_supplier,
                   running_version=entry.firmware_version, hardware_version=entry.hardware_version))
               for index, entry in enumerate(config.devices)]
    async with LabRig(devices, tmp_path / "rig", start=config.start, keystore=KeyStore(config.keystore),
                      gsme_timing=GsmeTiming(wake_interval_s=config.timing.gsme_wake_interval_s)) as opened:
        yield opened


@pytest_asyncio.fixture
async def place(tmp_path: Path, coordinator: str, rig: LabRig) -> AsyncIterator[str]:
    """The rig's stick and boards exported by a labgrid exporter and grouped in place ``gb-bench-3``."""
    ports = {PLACE_RADIO: os.path.realpath(rig.stick_path)}
    ports.update({name: os.path.realpath(rig.board_path(name)) for name in rig.boards})
    async with exported(tmp_path, coordinator, ports):
        yield PLACE


@contextlib.asynccontextmanager
async def exported(tmp_path: Path, coordinator: str, ports: dict[str, str]) -> AsyncIterator[None]:
    """``ports`` (by resource name, each a path under /dev) exported as ``RawSerialPort`` resources
    by a labgrid exporter, and grouped in place ``gb-bench-3``."""
    if shutil.which("ser2net") is None and not Path("/usr/sbin/ser2net").exists():
        pytest.skip("ser2net is not installed: labgrid's exporter serves serial ports through it "
                    "(Debian: apt-get install ser2net; .ci/run installs it)")
    config = tmp_path / "exporter.yaml"
    config.write_text(f"{PLACE}:\n" + "".join(
        f"  {name}:\n    cls: RawSerialPort\n    port: {path}\n    speed: 115200\n" for name, path in ports.items()))
    log = tmp_path / "exporter.txt"
    with log.open("wb") as out:
        exporter = subprocess.Popen(
            [str(BIN / "labgrid-exporter"), "-c", coordinator, "--name", EXPORTER, "--hostname", "127.0.0.1",
             str(config)], stdout=out, stderr=subprocess.STDOUT)
    try:
        await asyncio.to_thread(wait_exported, coordinator, len(ports), exporter, log)
        for args in (("create",), ("add-match", f"{EXPORTER}/{PLACE}/NetworkSerialPort/*"),
                     ("set-tags", "site=loopback", "kind=gb-premises")):
            await asyncio.to_thread(client, coordinator, "-p", PLACE, *args)
        yield
    finally:
        await asyncio.to_thread(stop, exporter)


def wait_exported(coordinator: str, count: int, exporter: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if exporter.poll() is not None:
            pytest.fail(f"the exporter exited with {exporter.returncode}:\n{log.read_text()}")
        listed = client(coordinator, "resources")
        if listed.count(f"{EXPORTER}/{PLACE}/NetworkSerialPort") == count:
            return
        time.sleep(0.2)
    pytest.fail(f"the exporter did not export {count} serial ports within 30 s:\n{log.read_text()}")


def place_bench(tmp_path: Path, coordinator: str, name: str = "lab") -> Path:
    """``bench/twin.toml`` as a lab bench that names the place and no port."""
    text = TWIN.read_text()
    text = text[:text.index("[air]")] + text[text.index("[timing]"):]  # a lab's air is real
    for old, new in {
        'kind = "twin"': 'kind = "lab"',
        'name = "twin"': f'name = "{name}"',
        "\n[hub]": f'\n[lab]\nplace = "{PLACE}"\ncoordinator = "{coordinator}"\n\n[hub]',
        '"../fixtures/keys"': f'"{ROOT / "fixtures" / "keys"}"',
        '"../firmware_images"': f'"{ROOT / "firmware_images"}"',
        '"../sessions"': f'"{tmp_path / "sessions"}"',
        # a lab's stick probes (hardware.md), not the twin's 1 s: over ser2net and the relay on a
        # busy machine a probe may take longer than a second without the stick being hung
        "probe_interval_s = 1.0": "probe_interval_s = 5.0",
        "probe_timeout_s = 1.0": "probe_timeout_s = 3.0",
        "receipt_alert_wait_s = 10 ": "receipt_alert_wait_s = 30 ",  # an image over the network
    }.items():
        assert text.count(old) == 1, old
        text = text.replace(old, new)
    file = tmp_path / f"{name}.toml"
    file.write_text(text)
    return file


class Run:
    """``hanbench run`` in a subprocess, its output read line by line as it comes."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process
        self.lines: list[str] = []
        self._reader = asyncio.get_running_loop().create_task(self._read())

    async def kill(self) -> None:
        """End the run if it is still going (a test that failed half-way leaves no process behind)."""
        if self.process.returncode is None:
            self.process.kill()
            await self.process.wait()
        await self._reader

    @classmethod
    async def start(cls, bench: Path, *args: str) -> Run:
        process = await asyncio.create_subprocess_exec(
            str(BIN / "hanbench"), "run", "--bench", str(bench), *args, cwd=ROOT,
            env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
        return cls(process)

    async def _read(self) -> None:
        assert self.process.stdout is not None
        while line := await self.process.stdout.readline():
            self.lines.append(line.decode(errors="replace").rstrip("\n"))

    @property
    def text(self) -> str:
        return "\n".join(self.lines)

    async def said(self, words: str, timeout: float = 120.0) -> None:
        """Wait until a line containing ``words`` is out."""
        deadline = time.monotonic() + timeout
        while not any(words in line for line in self.lines):
            if self._reader.done() or time.monotonic() > deadline:
                pytest.fail(f"hanbench run never said {words!r}:\n{self.text}")
            await asyncio.sleep(0.1)

    async def end(self, timeout: float = 600.0) -> int:
        await asyncio.wait_for(self.process.wait(), timeout)
        await self._reader
        return self.process.returncode if self.process.returncode is not None else -1


@pytest.mark.timeout(600)  # the lab's conformance tests in real time, then one test more
@pytest.mark.asyncio
async def test_the_conformance_suite_runs_through_a_labgrid_place_and_a_second_run_waits_for_it(
        tmp_path: Path, coordinator: str, place: str) -> None:
    bench = place_bench(tmp_path, coordinator)
    first = await Run.start(bench, "-k", LAB_SUITE)
    runs = [first]
    try:
        await first.said(f"hanbench: acquired labgrid place {place}")
        # a test whose devices' state the first run does not change: a lab's devices keep what a run did
        second = await Run.start(bench, "-k", "test_an_rsa_not_appointed_by_the_supplier_is_refused")
        runs.append(second)
        await second.said(f"hanbench: labgrid place {place} is acquired by ")
        assert await first.end() == 0, first.text
        assert LAB_OUTCOME in first.text, first.text
        assert await second.end() == 0, second.text
        assert "1 passed" in second.text, second.text
    finally:
        for run in runs:
            await run.kill()
    # the second run acquired the place only after waiting for it
    waited = next(i for i, line in enumerate(second.lines) if "is acquired by" in line)
    acquired = next(i for i, line in enumerate(second.lines) if f"acquired labgrid place {place}" in line)
    assert waited < acquired
    await asyncio.to_thread(assert_free, coordinator, place)



@pytest_asyncio.fixture
async def esme_place(tmp_path: Path, coordinator: str, rig: LabRig) -> AsyncIterator[str]:
    """Board ``esme`` alone in the place, exported by a link under /dev to the board's stable path.

    As a lab exports a board by its ``/dev/serial/by-id`` link: while the board is away the link
    dangles, and ser2net opens whatever it leads to once the board is back on a new pty.
    """
    link = Path("/dev") / f"hanbench-{os.getpid()}-esme"
    try:
        link.symlink_to(rig.board_path("esme"))
    except OSError as exc:
        pytest.skip(f"cannot make a link under /dev for the exporter to serve ({exc}); labgrid's exporter "
                    "serves only paths under /dev")
    try:
        async with exported(tmp_path, coordinator, {"esme": str(link)}):
            yield PLACE
    finally:
        link.unlink()


async def vanished(control: BoardControl) -> PortVanished:
    """What ``control`` says once its port is gone: it notices unasked, without a request pending."""
    with pytest.raises(PortVanished) as gone:
        await control.wait_event(lambda event: False, timeout=20)
    return gone.value


@pytest.mark.timeout(180)
@pytest.mark.asyncio
@pytest.mark.filterwarnings("error::pytest.PytestUnhandledThreadExceptionWarning")  # no thread traceback while it is away
async def test_a_board_whose_port_vanishes_on_the_exporter_is_reconnected_at_its_url_or_named_if_it_stays_away(
        coordinator: str, esme_place: str, rig: LabRig) -> None:
    board = rig.boards["esme"]
    loop = asyncio.get_running_loop()
    with acquired_place(esme_place, coordinator, timeout=5, say=lambda _: None) as held:
        url = held.port_url("esme")
        async with BoardControl(url, name="esme", reset_timeout=15) as control:
            eui64 = (await control.identify()).eui64
            # a reset by hand, a USB hiccup: away for two seconds, back on a new pty
            away = loop.create_task(board.vanish(2))
            assert str(await vanished(control)).startswith(f"board 'esme' on {url}: the control port vanished")
            back = await control.reconnect()
            await away
            assert (back.eui64, board.appearances, control.device) == (eui64, 2, url)
            assert (await control.state()).firmware_version == back.firmware_version  # and the run goes on
            # unplugged for good: the bench gives up after reset_timeout, naming the board and its URL
            gone = loop.create_task(board.vanish(3600))
            try:
                await vanished(control)
                control.reset_timeout = 3
                with pytest.raises(BoardTimeout, match=rf"^board 'esme' on {re.escape(url)}: did not come back "
                                                       r"within 3 s after it vanished; last problem: "):
                    await control.reconnect()
            finally:
                gone.cancel()
                await asyncio.gather(gone, return_exceptions=True)


def assert_free(coordinator: str, place: str) -> None:
    """Nobody holds ``place``: it is acquired without a wait."""
    said: list[str] = []
    with acquired_place(place, coordinator, timeout=0.1, say=said.append):
        pass
    assert said == [f"hanbench: acquired labgrid place {place}"]


@pytest.mark.timeout(300)
@pytest.mark.asyncio
async def test_ctrl_c_during_a_run_releases_the_place(tmp_path: Path, coordinator: str, place: str) -> None:
    run = await Run.start(place_bench(tmp_path, coordinator), "-k", LAB_SUITE)
    try:
        await run.said(f"hanbench: acquired labgrid place {place}")
        await asyncio.sleep(2)  # into the premises' assembly: the stick and the boards are open
        run.process.send_signal(signal.SIGINT)
        assert await run.end(timeout=120) != 0
    finally:
        await run.kill()
    await asyncio.to_thread(assert_free, coordinator, place)


def test_the_labgrid_install_imports_labgrids_pyserial() -> None:
    """The ``serial`` module of this install is labgrid's fork (the Makefile puts it back over
    pyserial's files); tests/unit/hardware/test_serial_module.py checks what hanbench needs of it."""
    import serial

    assert serial.__version__ == importlib.metadata.version("pyserial-labgrid")


# -- the place alone: a coordinator and no exporter ------------------------------------------------


@pytest.fixture
def empty_place(coordinator: str) -> str:
    client(coordinator, "-p", "empty-place", "create")
    return "empty-place"


def test_a_place_held_elsewhere_is_waited_for_then_given_up_naming_its_holder(
        coordinator: str, empty_place: str) -> None:
    said: list[str] = []
    with acquired_place(empty_place, coordinator, timeout=5, say=said.append):
        with pytest.raises(PlaceBusy) as busy:
            acquired_place(empty_place, coordinator, timeout=1, poll=0.1, say=said.append).__enter__()
    holder = said[1].split(" is acquired by ")[1].split(";")[0]
    assert said == [f"hanbench: acquired labgrid place {empty_place}",
                    f"hanbench: labgrid place {empty_place} is acquired by {holder}; waiting up to 1 s for it "
                    "to be released"]
    assert str(busy.value) == (f"labgrid place {empty_place} is still acquired by {holder} after 1 s; try again "
                               "later, or raise [lab] acquire_timeout_s")
    assert_free(coordinator, empty_place)  # released when the block ended


def test_a_place_the_coordinator_does_not_know_is_named_with_the_places_it_does(
        coordinator: str, empty_place: str) -> None:
    with pytest.raises(PlaceProblem, match=f"place pattern gb-bench-9 matches nothing; places on the "
                                           f"coordinator: {empty_place}"):
        acquired_place("gb-bench-9", coordinator, timeout=1).__enter__()


def test_a_role_the_place_has_no_serial_port_for_is_named(coordinator: str, empty_place: str) -> None:
    with acquired_place(empty_place, coordinator, timeout=1, say=lambda _: None) as held:
        with pytest.raises(PlaceProblem, match=f"labgrid place '{empty_place}' has no serial port named "
                                               f"'{PLACE_RADIO}'; its serial ports: none"):
            held.port_url(PLACE_RADIO)
    assert_free(coordinator, empty_place)


# -- power: a place's NetworkPowerPort switched through labgrid's power driver -------------------


class Switch:
    """A network power switch on loopback that speaks labgrid's ``simplerest`` model: GET /outlet/I/V."""

    def __init__(self) -> None:
        self.requests: list[str] = []
        switch = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - the name http.server calls
                switch.requests.append(self.path)
                self.send_response(200)
                self.end_headers()
                self.wfile.write(b"1")

            def log_message(self, *args: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/outlet/{{index}}/{{value}}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def switch() -> Iterator[Switch]:
    running = Switch()
    yield running
    running.close()


def test_a_places_power_port_switches_the_board_named_like_it(tmp_path: Path, coordinator: str,
                                                              switch: Switch) -> None:
    config = tmp_path / "exporter.yaml"
    config.write_text(f"{PLACE}:\n  esme:\n    cls: NetworkPowerPort\n    model: simplerest\n"
                      f"    host: '{switch.url}'\n    index: 3\n")
    log = tmp_path / "exporter.txt"
    with log.open("wb") as out:
        exporter = subprocess.Popen([str(BIN / "labgrid-exporter"), "-c", coordinator, "--name", EXPORTER,
                                     "--hostname", "127.0.0.1", str(config)], stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 30
        while f"{EXPORTER}/{PLACE}/NetworkPowerPort" not in client(coordinator, "resources"):
            assert time.monotonic() < deadline and exporter.poll() is None, log.read_text()
            time.sleep(0.2)
        client(coordinator, "-p", PLACE, "create")
        client(coordinator, "-p", PLACE, "add-match", f"{EXPORTER}/{PLACE}/NetworkPowerPort/esme")
        with acquired_place(PLACE, coordinator, timeout=5, say=lambda _: None) as held:
            assert held.serial_ports == {}
            table = held.power_ports["esme"]
            assert table == {"driver": "labgrid", "model": "simplerest", "host": switch.url, "index": 3}
            power = power_from_config(table, name="esme")
            asyncio.run(power.cycle(off_time=0.01))
        assert switch.requests == ["/outlet/3/0", "/outlet/3/1"]
    finally:
        stop(exporter)


def test_a_switch_that_fails_is_a_power_fault_naming_the_board_and_outlet(switch: Switch) -> None:
    switch.close()  # nothing answers there any more
    power = power_from_config({"driver": "labgrid", "model": "simplerest", "host": switch.url, "index": 3},
                              name="gsme")
    with pytest.raises(PowerFault, match=r"power of 'gsme': labgrid's simplerest switch at http://127\.0\.0\.1:\d+/"
                                         r"outlet/\{index\}/\{value\}, outlet 3, did not switch off: ConnectionError"):
        asyncio.run(power.off())


@pytest.mark.asyncio
async def test_bench_check_holds_the_place_and_identifies_every_board_over_the_network(
        tmp_path: Path, coordinator: str, place: str) -> None:
    done = await asyncio.create_subprocess_exec(
        str(BIN / "hanbench"), "bench", "check", str(place_bench(tmp_path, coordinator)),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await done.communicate()
    assert done.returncode == 0, out.decode() + err.decode()
    assert err.decode().splitlines() == [f"hanbench: acquired labgrid place {place}"]
    rows = {line.split()[1]: line.split() for line in out.decode().splitlines()[1:]}
    assert set(rows) == {PLACE_RADIO, "esme", "gsme", "ppmid", "hcalcs", "ihd"}
    assert all(row[2].startswith("rfc2217://127.0.0.1:") for row in rows.values())
    assert rows["esme"][3:5] == ["esme", "00-DB-12-34-56-78-91-00"]
    await asyncio.to_thread(assert_free, coordinator, place)
