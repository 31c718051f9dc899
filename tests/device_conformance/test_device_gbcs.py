"""The device conformance suite's gbcs_device tests, collected from the one copy in the package."""

from hanbench.suites.device.test_gbcs_device import *  # noqa: F403
