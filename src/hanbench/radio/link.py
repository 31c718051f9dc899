"""The radio link between two nodes on the virtual air: its latency, its loss, its counters.

A :class:`LinkModel` is what one directed hop adds to a frame: a fixed propagation and
processing ``latency_s``, and a ``loss`` probability. What a loss means depends on the air:

* on the free air (the default, for unit tests) a frame costs no time and ``loss`` is the
  probability that it never arrives, all the MAC and APS retries a stack would make included;
* on the honest air (:mod:`hanbench.radio.mac`) ``loss`` is the probability that one frame on
  the air is not received: each attempt, each acknowledgement, each poll draws it, and the
  MAC and APS retry as a stack does, so a lossy link shows its retries and takes their time.
"""

from __future__ import annotations

import dataclasses
import functools
import random

from hanbench.errors import BadInput


@dataclasses.dataclass(frozen=True)
class LinkModel:
    """What one directed hop costs. The default is free: no delay and no loss."""

    latency_s: float = 0.0
    loss: float = 0.0

    def __post_init__(self) -> None:
        if self.latency_s < 0:
            raise BadInput(f"link latency must be >= 0 s, got {self.latency_s}")
        if not 0.0 <= self.loss <= 1.0:
            raise BadInput(f"link loss probability must be within [0, 1], got {self.loss}")

    # Read for every frame: worked out once per model (a cached property sets no field of the
    # frozen dataclass, so models compare and print as before).

    @functools.cached_property
    def lossless(self) -> bool:
        """Whether the hop never loses a frame."""
        return self.loss == 0.0

    @functools.cached_property
    def free(self) -> bool:
        """Whether the hop costs a frame nothing: no loss and no latency."""
        return self.loss == 0.0 and self.latency_s == 0.0


@dataclasses.dataclass
class LinkStats:
    """Traffic counters of one directed link: frames put on it (retries included), their
    octets on the air, and how many of them were lost."""

    frames: int = 0
    octets: int = 0
    lost: int = 0


class Link:
    """One directed hop in use: its model, its own seeded loss draws, its counters.

    Each link draws losses from its own ``random.Random`` seeded from the air's seed and the
    two end points, so whether frame *n* on a link is lost does not depend on traffic
    elsewhere on the air: a fixed seed drops the same frames on every run.

    Frame *n*'s fate is the *n*-th draw. A link that cannot lose (``loss`` 0, every unit
    test's and most benches' air) owes its frames' draws rather than make them, and makes
    them up before the first draw that can matter (its model given a loss): the pattern is
    the same, and the common case costs two counters a frame.
    """

    def __init__(self, model: LinkModel, seed: str) -> None:
        #: What the hop costs; it may be changed while the link is in use.
        self.model = model
        self.stats = LinkStats()
        self._random = random.Random(seed)
        self._owed = 0

    def lost(self, octets: int) -> bool:
        """Count one frame of ``octets`` on the link; whether it is lost."""
        stats = self.stats
        stats.frames += 1
        stats.octets += octets
        model = self.model
        if model.lossless:
            self._owed += 1
            return False
        if self._owed:
            self._make_up_draws()
        # Draw on every frame, so the loss pattern depends only on the frame's index.
        lost = self._random.random() < model.loss
        stats.lost += lost
        return lost

    def _make_up_draws(self) -> None:
        draw = self._random.random
        for _ in range(self._owed):
            draw()
        self._owed = 0
