"""The conformance suite's whole_flow tests, collected from the one copy in the package."""

from hanbench.suites.conformance.test_whole_flow import *  # noqa: F403
