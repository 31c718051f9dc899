"""The device conformance suite's ota_client tests, collected from the one copy in the package."""

from hanbench.suites.device.test_ota_client import *  # noqa: F403
