"""The ``hanbench`` command line.

Each command group lives in its own module beside this one and is registered here, so a
group can grow without touching the others. Expected failures (:class:`HanbenchError`)
become a one-line ``error: ...`` and the error's exit code; a traceback is only ever shown
for a bug.
"""

from __future__ import annotations

import sys
from typing import Any

import click

from hanbench import __version__
from hanbench.errors import ExitCode, HanbenchError


class _Root(click.Group):
    """Root group that turns expected failures into one line and an exit code."""

    def main(self, *args: Any, **kwargs: Any) -> Any:  # noqa: D401 - click API
        standalone = kwargs.pop("standalone_mode", True)
        try:
            code = super().main(*args, **kwargs, standalone_mode=False)
        except HanbenchError as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(exc.exit_code)
        except click.exceptions.Abort:
            click.echo("aborted", err=True)
            sys.exit(ExitCode.INTERRUPTED)
        except click.UsageError as exc:
            where = f" (see '{exc.ctx.command_path} --help')" if exc.ctx else ""
            click.echo(f"error: {exc.format_message()}{where}", err=True)
            sys.exit(ExitCode.BAD_INPUT)
        except click.ClickException as exc:
            click.echo(f"error: {exc.format_message()}", err=True)
            sys.exit(exc.exit_code)
        except click.exceptions.Exit as exc:
            sys.exit(exc.exit_code)
        if not standalone:
            return code
        # Outside its standalone mode click returns the code a command exited with (ctx.exit),
        # and None when it simply returned; exit with it, as click's standalone mode would.
        sys.exit(code if isinstance(code, int) else 0)


@click.group(cls=_Root)
@click.version_option(__version__, prog_name="hanbench")
def main() -> None:
    """hanbench: GB smart-metering firmware over the air, on a bench or in emulation."""


def _register() -> None:
    """Attach every command group that exists in this package."""
    import importlib
    import pkgutil

    for mod in pkgutil.iter_modules(__path__):
        if mod.name.startswith("_"):
            continue
        module = importlib.import_module(f"{__name__}.{mod.name}")
        command = getattr(module, "command", None)
        if isinstance(command, click.Command):
            main.add_command(command)


_register()
