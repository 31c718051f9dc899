"""The conformance suite's portfolio_report tests, collected from the one copy in the package."""

from hanbench.suites.conformance.test_portfolio_report import *  # noqa: F403
