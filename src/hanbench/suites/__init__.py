"""The test suites hanbench ships, as pytest test folders inside the package.

* :mod:`hanbench.suites.conformance`: the whole update flow and its gating, on any bench.
* :mod:`hanbench.suites.device`: the device conformance suite, one test per behaviour of one
  device under test, each tagged with the clause it checks.

``hanbench run`` and ``hanbench validate`` find them with :mod:`hanbench.packaged`, so they run
from a wheel install; the repository's ``tests/conformance`` and ``tests/device_conformance``
import their modules, so the repository's own test run covers the one copy.
"""
