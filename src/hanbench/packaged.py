"""What hanbench ships inside its package, found with :mod:`importlib.resources`.

A wheel install has no source checkout around it, so everything ``hanbench run`` and
``hanbench validate`` need on an empty folder travels as package data:

* the embedded default bench (``embedded/bench/emu.toml``) with the key store and the sample
  images it names (``embedded/fixtures/keys``, ``embedded/firmware_images``), laid out as in
  the repository, so the bench file's relative paths hold in both places;
* the suites (:mod:`hanbench.suites`): the conformance suite and the device conformance suite,
  as pytest test folders.

In the repository ``src/hanbench/embedded/`` holds symbolic links to ``bench/emu.toml``,
``fixtures/keys`` and ``firmware_images``: one copy of each file, which the wheel build copies
into the package. The package is read-only to a user, so nothing is ever written into it: a
bench file's session folder that would lie inside it is moved to the working directory
(:func:`sessions_outside`).
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from hanbench.errors import BadInput

#: The suites the package ships, by the name ``hanbench run --suite`` takes.
SUITES = ("conformance", "device")


def _folder(*parts: str) -> Path:
    """A folder of the installed package as a real path (pytest runs files, not zip members)."""
    found = resources.files("hanbench").joinpath(*parts)
    path = Path(str(found))
    if not path.exists():
        raise BadInput(f"hanbench's package has no {'/'.join(parts)} (found {path}): the install is "
                       "incomplete or zipped; reinstall hanbench from its wheel")
    return path


def package_root() -> Path:
    """The folder the ``hanbench`` package is installed in (or ``src/hanbench`` of a checkout)."""
    return Path(str(resources.files("hanbench")))


def default_bench_file() -> Path:
    """The embedded default emu bench: one premises of every emulated device type."""
    return _folder("embedded", "bench", "emu.toml")


def suite_folder(name: str) -> Path:
    """The folder of the shipped suite ``name`` (one of :data:`SUITES`)."""
    if name not in SUITES:
        raise BadInput(f"hanbench ships no suite {name!r}; it ships {', '.join(SUITES)}")
    return _folder("suites", name)


def sessions_outside(sessions: Path, cwd: Path | None = None) -> Path:
    """``sessions``, unless it lies inside the installed package: then ``sessions`` under the
    working directory (the embedded bench's ``../sessions`` would be in site-packages)."""
    try:
        sessions.resolve().relative_to(package_root().resolve())
    except ValueError:
        return sessions
    return (cwd if cwd is not None else Path.cwd()).resolve() / "sessions"
