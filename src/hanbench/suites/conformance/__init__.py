"""The conformance suite: the whole GBCS firmware update on a bench, and its gating.

Each device type through distribution, receipt alert and activation; nothing activates without
a valid CS06 from the device's Supplier; MP207 (who may distribute, who may activate); message
protection; the signed firmware facts; supplier automation; the portfolio report. It runs on
every bench kind (tests that need the emulator's controls are marked ``emu``); ``hanbench run``
runs it from the installed package.
"""
