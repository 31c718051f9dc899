"""The bench database a reading command needs: it must exist, or there is nothing to read.

Opening a missing SQLite file would create an empty one (and its folders) and report
"nothing found"; a command that only reads past sessions says instead that none has run.
"""

from __future__ import annotations

from pathlib import Path

from hanbench.bench.bench_config import BenchConfig
from hanbench.errors import BadInput


def existing_database(bench: BenchConfig) -> Path:
    """``bench``'s session database, or :class:`BadInput` if no session has written it yet."""
    database = bench.database_path
    if not database.is_file():
        raise BadInput(f"bench {bench.name!r} has no database at {database} yet: run a session on it first")
    return database
