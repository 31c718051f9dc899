"""The conformance suite's mp207 tests, collected from the one copy in the package."""

from hanbench.suites.conformance.test_mp207 import *  # noqa: F403
