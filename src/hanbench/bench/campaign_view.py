"""A CH firmware campaign's progress, live on a terminal (rich).

``with campaign_view(campaign): await campaign.run()`` keeps one table on the terminal: the
campaign's stage, its CHs by state (waiting, in progress, activated, failed, of them the
pilot group) and its latest notice, redrawn at every notice and a few times a second. It
reads :meth:`Campaign.progress` only, so what it shows is what the campaign records.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from rich.console import Console
from rich.live import Live
from rich.table import Table

from hanbench.dcc.campaign import Campaign, Progress


def progress_table(progress: Progress) -> Table:
    """One campaign's progress as a table."""
    stage = progress.stage.value if progress.stage is not None else "planned"
    table = Table(title=f"campaign {progress.campaign}: {stage}", title_justify="left")
    for column in ("CHs", "pilot", "waiting", "in progress", "activated", "failed"):
        table.add_column(column, justify="right")
    table.add_row(*(str(n) for n in (progress.chs, progress.pilot, progress.waiting, progress.in_progress,
                                     progress.activated, progress.failed)))
    table.caption = progress.last_notice
    return table


@contextlib.contextmanager
def campaign_view(campaign: Campaign, console: Console | None = None) -> Iterator[Live]:
    """The campaign's progress table, live on ``console`` (the terminal) while the block runs."""
    with Live(progress_table(campaign.progress()), console=console, refresh_per_second=4,
              get_renderable=lambda: progress_table(campaign.progress())) as live:
        remove = campaign.on_notice(lambda _notice: live.refresh())
        try:
            yield live
        finally:
            remove()
