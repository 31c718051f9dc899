"""The conformance suite's change_of_supplier tests, collected from the one copy in the package."""

from hanbench.suites.conformance.test_change_of_supplier import *  # noqa: F403
