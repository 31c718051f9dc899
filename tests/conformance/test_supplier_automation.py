"""The conformance suite's supplier_automation tests, collected from the one copy in the package."""

from hanbench.suites.conformance.test_supplier_automation import *  # noqa: F403
