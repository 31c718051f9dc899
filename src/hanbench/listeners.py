"""Who hears about something, and how they stop hearing.

Many parts of the bench tell others of what happened: a mirror's flags changed, a queued
command expired, a tunnel message arrived, a frame crossed the air. Each keeps one
:class:`Listeners`; ``add`` returns the function that removes the listener again, so a
subscriber keeps a single handle to undo its subscription. It sits at the package floor,
beside ``errors`` and ``clock``, because every layer uses it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Generic, TypeVar

C = TypeVar("C", bound=Callable[..., Any])


class Listeners(Generic[C]):
    """An ordered list of callbacks of type ``C``, called together."""

    def __init__(self) -> None:
        self._callbacks: list[C] = []

    def add(self, callback: C) -> Callable[[], None]:
        """Call ``callback`` from now on; returns the function that stops it (once: calling
        it again does nothing, so a subscriber may stop on every way out without counting)."""
        self._callbacks.append(callback)
        stopped = False

        def stop() -> None:
            nonlocal stopped
            if not stopped:
                stopped = True
                self._callbacks.remove(callback)

        return stop

    def __len__(self) -> int:
        """How many listeners are called."""
        return len(self._callbacks)

    def __bool__(self) -> bool:
        """Whether anyone listens (a caller may then skip building what it would tell)."""
        return bool(self._callbacks)

    def __call__(self, *args: Any) -> None:
        """Call every listener in the order added, with ``args``.

        Iterates over a copy, so a listener that adds or removes listeners (its own
        remover included) changes only the calls that come after this one.
        """
        for callback in list(self._callbacks):
            callback(*args)
