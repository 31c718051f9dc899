"""hanbench: a hardware-in-the-loop bench for GB smart-metering firmware over the air.

The layers (see README.md): ``gbcs`` (pure GBCS codecs) at the floor, then ``radio``,
``devices`` and ``hub`` (which meet only over the air), ``dcc``, ``bench``, and the faces
``cli`` and ``pytest_plugin``.

The scripting API (:mod:`hanbench.api`) is re-exported here, loaded on first use so that
importing a low layer such as ``hanbench.gbcs`` does not pull in zigpy and the DCC::

    from hanbench import open_bench
"""

from typing import Any

__version__ = "0.1.0"


def __getattr__(name: str) -> Any:
    import importlib

    api = importlib.import_module("hanbench.api")
    if name in api.__all__:
        return getattr(api, name)
    raise AttributeError(f"module 'hanbench' has no attribute {name!r}")
