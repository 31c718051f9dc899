"""The conformance suite's change_of_tenancy tests, collected from the one copy in the package."""

from hanbench.suites.conformance.test_change_of_tenancy import *  # noqa: F403
