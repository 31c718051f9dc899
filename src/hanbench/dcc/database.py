"""Opening the bench database: one SQLite file shared by the DCC's inventory and the session record.

Both open their own connection to the same file, in autocommit mode (each writes in its own
explicit transactions), and both want it the same way:

* ``journal_mode = WAL``: a reader (``hanbench sessions``, a report) never blocks the writer,
  and a commit appends to the log instead of rewriting pages and the rollback journal;
* ``synchronous = NORMAL``: in WAL mode a commit no longer waits for the disk (the log is
  synced at checkpoints), which is what makes an estate of a thousand premises affordable:
  with the default (``FULL``) every alert, inbox delivery and recorded event paid an fsync
  (about 3.5 ms each on this project's CI disk, more than the rest of a whole update of one
  premises). The price is durability against a power cut or an OS crash, not against the
  bench process dying: the last transactions before such a crash may be lost, the file is
  never corrupt. A bench record can afford that;
* ``foreign_keys = ON``, which SQLite leaves off per connection.

A ``:memory:`` database ignores the journal settings.
"""

from __future__ import annotations

import sqlite3


def connect(path: str, *, timeout: float = 5.0) -> sqlite3.Connection:
    """A connection to the bench database at ``path``, set up as the module docstring says.

    Raises :class:`sqlite3.DatabaseError` for a file that is not a SQLite database.
    """
    db = sqlite3.connect(path, timeout=timeout, isolation_level=None)
    try:
        db.execute("PRAGMA journal_mode = WAL")
        db.execute("PRAGMA synchronous = NORMAL")
        db.execute("PRAGMA foreign_keys = ON")
    except sqlite3.Error:
        db.close()
        raise
    return db
