"""The conformance suite's alt_han tests, collected from the one copy in the package."""

from hanbench.suites.conformance.test_alt_han import *  # noqa: F403
