"""Typed errors of the GBCS layer.

A decoder fed bad bytes raises one of these with a plain message naming the field and
offset; it never lets an ``IndexError``, ``struct.error`` or library exception escape.
"""

from __future__ import annotations

from hanbench.errors import BadInput, CheckFailed


class GbcsError(BadInput):
    """Malformed GBCS input (bytes that are not what they claim to be)."""


class ImageFormatError(GbcsError):
    """Bytes that are not a well-formed GBCS OTA Upgrade Image."""


class MessageFormatError(GbcsError):
    """Bytes that are not a well-formed GBCS message (frame, CS06, alert)."""


class MessageTruncated(MessageFormatError):
    """A GBCS message that ends before a field it announces (cut short in a log or on the air)."""


class KeyStoreError(BadInput):
    """A key or certificate that is missing or unreadable in the key store."""


class KeyMissing(KeyStoreError):
    """The key store has no file for the key a check or a MAC needs."""


class SignatureInvalid(CheckFailed):
    """A signature that does not verify with the key it was checked against."""


class CounterReplayed(CheckFailed):
    """A signed command whose originator counter is not above the last one its sender used: a
    replay, which GBCS has the device refuse."""


class MacInvalid(CheckFailed):
    """A GBCS MAC (the GMAC of a general-ciphering envelope) that does not verify, or is missing
    where GBCS requires one."""
