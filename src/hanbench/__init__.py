"""hanbench: a hardware-in-the-loop bench for GB smart-metering firmware over the air.

The layers (see README.md): ``gbcs`` (pure GBCS codecs) at the floor, then ``radio``,
``devices`` and ``hub`` (which meet only over the air), ``dcc``, ``bench``, and the faces
``cli`` and ``pytest_plugin``.
"""

__version__ = "0.1.0"
