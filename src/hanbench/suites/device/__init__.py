"""The device conformance suite: one device under test, one test per behaviour, each tagged with
the clause it checks (ZCL OTA client behaviour, GBCS device checks), with the CH as the test
instrument (:mod:`hanbench.hub.ota_faults`).

The device is ``device_under_test`` (every device of the bench in turn, or ``--hanbench-device``)
and the image ``image_under_test`` (the bench's sample image, or ``--hanbench-image``), both
fixtures of the hanbench pytest plugin; ``hanbench validate`` runs the suite on one device with
the image it validates. A test that does not apply to the device's type skips, saying why.
That each known-bad behaviour an emulated device can be given (:mod:`hanbench.devices.defects`)
fails at least one test here is proven by ``tests/device_conformance/test_defects_caught.py``.
"""
