"""The conformance suite's signed_facts tests, collected from the one copy in the package."""

from hanbench.suites.conformance.test_signed_facts import *  # noqa: F403
