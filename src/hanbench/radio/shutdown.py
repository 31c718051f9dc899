"""Shutting a zigpy application down on any radio, with nothing of it left running.

zigpy 2.4's ``ControllerApplication.shutdown`` cancels the tasks it started for the
application and its devices (interviews, group scans, request handlers) but does not wait
for them, so they would still run, or be destroyed pending, when the bench's loop moves on
or closes. :func:`shut_down` collects them first and waits for them after.
"""

from __future__ import annotations

import asyncio
from typing import Any

import zigpy.application


def zigpy_tasks(app: zigpy.application.ControllerApplication) -> set[asyncio.Task[Any]]:
    """Tasks zigpy started for the application and its devices (shutdown only cancels them)."""
    tasks: set[asyncio.Task[Any]] = set(app._tasks)
    for device in app.devices.values():
        tasks |= set(getattr(device, "_tasks", ()))
        for attribute in ("_initialize_task", "_group_scan_task", "_fast_polling_reset_task"):
            task = getattr(device, attribute, None)
            if task is not None:
                tasks.add(task)
    return tasks


async def shut_down(app: zigpy.application.ControllerApplication) -> None:
    """Shut ``app`` down, then cancel and wait for every task zigpy had started for it."""
    pending = zigpy_tasks(app)
    await app.shutdown()
    for task in pending:
        task.cancel()
    await asyncio.gather(*pending, return_exceptions=True)
