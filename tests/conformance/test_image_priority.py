"""The conformance suite's image_priority tests, collected from the one copy in the package."""

from hanbench.suites.conformance.test_image_priority import *  # noqa: F403
