"""The conformance suite's gating tests, collected from the one copy in the package."""

from hanbench.suites.conformance.test_gating import *  # noqa: F403
