"""Listeners: the one way parts of the bench tell each other what happened."""

from __future__ import annotations

from hanbench.listeners import Listeners


def test_listeners_are_called_in_order_with_the_arguments_and_the_remover_stops_one() -> None:
    heard: list[tuple[str, int]] = []
    listeners: Listeners = Listeners()
    listeners.add(lambda n: heard.append(("first", n)))
    stop_second = listeners.add(lambda n: heard.append(("second", n)))

    listeners(1)
    stop_second()
    listeners(2)

    assert heard == [("first", 1), ("second", 1), ("first", 2)]


def test_a_listener_that_removes_itself_or_adds_another_changes_only_later_calls() -> None:
    heard: list[str] = []
    listeners: Listeners = Listeners()

    def once() -> None:
        heard.append("once")
        stop_once()
        listeners.add(lambda: heard.append("added"))

    stop_once = listeners.add(once)
    listeners.add(lambda: heard.append("always"))

    listeners()
    listeners()

    assert heard == ["once", "always", "always", "added"]


def test_stopping_twice_stops_once_and_leaves_the_same_callback_added_again() -> None:
    heard: list[str] = []
    listeners: Listeners = Listeners()

    def hear() -> None:
        heard.append("heard")

    stop = listeners.add(hear)
    listeners.add(hear)  # the same callback, subscribed a second time
    stop()
    stop()
    listeners()
    assert heard == ["heard"] and len(listeners) == 1
