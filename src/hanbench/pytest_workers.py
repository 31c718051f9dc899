"""A bench run spread over pytest-xdist workers: who holds the bench, where each worker's premises live.

Under ``pytest -n N`` the controller process collects nothing and runs no test; N worker
processes do both. Each worker assembles its own premises per test, so each needs its own
session folder: the DCC inventory, the session record and a twin's or stick's network state
are a premises' private state, and two workers on one database would be refused by
:class:`~hanbench.bench.lock.BenchLock` ("in use by pid ..."). So:

* the controller holds the bench's lock for the whole run, taken before the workers start,
  so a bench held by another run fails this one at once with that run's message;
* worker ``gwN`` keeps its premises under ``<sessions>/<name>/workers/gwN/`` and records its
  part of the run there, as a run of its own;
* the controller records the run's one session in the bench's database: every bench test's
  outcome from the reports the workers send, and at the end every worker's events, each
  marked with the worker it came from. ``hanbench sessions show`` reads it as any other.

A lab bench is one set of hardware and cannot be shared by workers, and one air capture is
one file written by one process, so both are refused under xdist with a usage error.

pytest-xdist does the scheduling; nothing here imports it: its hooks are optional, and a
worker is recognised by the ``workerinput`` xdist gives its config.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest

from hanbench.bench.bench_config import BenchConfig, BenchKind

#: Where a worker's premises and records live, under the bench's session folder.
WORKERS_FOLDER = "workers"
#: The ``workeroutput`` key under which a worker hands its session to the controller.
_PART = "hanbench_session"


@dataclasses.dataclass(frozen=True)
class WorkerPart:
    """One worker's session of a run: its database and the session's ID there."""

    worker: str
    database: Path
    session_id: int

    def to_output(self) -> dict[str, Any]:
        return {"worker": self.worker, "database": str(self.database), "session_id": self.session_id}

    @classmethod
    def from_output(cls, output: dict[str, Any]) -> WorkerPart | None:
        part = output.get(_PART)
        return None if part is None else cls(part["worker"], Path(part["database"]), int(part["session_id"]))


def worker_id(config: pytest.Config) -> str | None:
    """This process's xdist worker ID (``gw0`` ...), or None in the controller or a run without workers."""
    workerinput: dict[str, Any] | None = getattr(config, "workerinput", None)
    return None if workerinput is None else str(workerinput["workerid"])


def is_controller(config: pytest.Config) -> bool:
    """Whether this process hands the tests to xdist workers (``-n`` given, and not 0)."""
    return config.pluginmanager.has_plugin("dsession")


def on_worker(bench: BenchConfig, worker: str) -> BenchConfig:
    """``bench`` with its session folder moved to the worker's own, under the bench's."""
    return dataclasses.replace(bench, sessions=bench.sessions / bench.name / WORKERS_FOLDER / worker)


def refuse_on_workers(bench: BenchConfig, shown: str, capture: str | None) -> None:
    """What cannot be spread over workers: a lab bench's hardware, and one capture file."""
    if bench.kind is BenchKind.LAB:
        raise pytest.UsageError(f"hanbench: {shown} is a lab bench: one set of hardware that xdist workers "
                                "cannot share; run it without -n")
    if capture is not None:
        raise pytest.UsageError("hanbench: --hanbench-capture writes one file from one process; "
                                "run it without -n")


def hand_over(config: pytest.Config, part: WorkerPart) -> None:
    """In a worker: give the controller this worker's session (xdist sends ``workeroutput`` at the end)."""
    config.workeroutput[_PART] = part.to_output()  # type: ignore[attr-defined]
