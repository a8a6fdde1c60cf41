"""AES-256-GCM: the one cipher for squadron secrets and for wrapping their data keys locally.

A sealed box is ``nonce (12 bytes) || ciphertext || tag``; the associated data binds it to
what it belongs to (a squadron's id), so a box copied to another squadron does not open.
"""

import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

KEY_BYTES = 32
_NONCE_BYTES = 12


class CannotOpen(Exception):
    """A box does not open with this key and associated data (wrong key, or tampered with)."""


def new_key() -> bytes:
    return AESGCM.generate_key(bit_length=KEY_BYTES * 8)


def seal(key: bytes, plaintext: bytes, associated: bytes) -> bytes:
    nonce = os.urandom(_NONCE_BYTES)
    return nonce + AESGCM(key).encrypt(nonce, plaintext, associated)


def open_box(key: bytes, box: bytes, associated: bytes) -> bytes:
    nonce, sealed = box[:_NONCE_BYTES], box[_NONCE_BYTES:]
    try:
        return AESGCM(key).decrypt(nonce, sealed, associated)
    except (InvalidTag, ValueError):
        raise CannotOpen("the box does not open with this key") from None
