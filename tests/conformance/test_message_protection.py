"""The conformance suite's message_protection tests, collected from the one copy in the package."""

from hanbench.suites.conformance.test_message_protection import *  # noqa: F403
