"""The conformance suite's outcomes tests, collected from the one copy in the package."""

from hanbench.suites.conformance.test_outcomes import *  # noqa: F403
