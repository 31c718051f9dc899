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


class KeyStoreError(BadInput):
    """A key or certificate that is missing or unreadable in the key store."""


class SignatureInvalid(CheckFailed):
    """A signature that does not verify with the key it was checked against."""
