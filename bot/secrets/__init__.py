"""Squadrons' secret settings, sealed in the event history with a per-squadron key.

Envelope encryption: each squadron has a 256-bit data key, kept only wrapped by a master key
(AWS KMS, or a local key file) in a key table outside the event history; the secret settings
in its ``SquadronSettingsChanged`` events are sealed with it (AES-256-GCM, the guild id as
associated data). Deleting the squadron's key (``KeyRing.forget``) makes them unreadable for
good: crypto-shredding, without rewriting any event.
"""

from bot.secrets.keyring import DataKey, KeyRing
from bot.secrets.open import open_keyring, open_master_key
from bot.secrets.store import SealingStore

__all__ = ["DataKey", "KeyRing", "SealingStore", "open_keyring", "open_master_key"]
