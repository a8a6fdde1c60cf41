"""Sealing the secret settings of a ``SquadronSettingsChanged`` event's data, and opening them.

Stored (schema version 3 and later): the secret keys are taken out of ``settings`` and sealed
together as JSON with AES-256-GCM under the squadron's data key, the guild id as associated
data: ``"sealed": {"key": <key id>, "box": <base64 of nonce, ciphertext and tag>}``. Opened:
``settings`` whole again. A box whose key is gone opens as forgotten secrets (blank, and the
features that need them off) with ``secrets_forgotten`` set.
"""

import base64
import json
from collections.abc import Mapping
from typing import Any

from bot.domain.settings import SECRET_KEYS, forgotten_secrets
from bot.secrets.cipher import CannotOpen, open_box, seal
from bot.secrets.keyring import DataKey

SEALED_TYPE = "SquadronSettingsChanged"
FIRST_SEALED_VERSION = 3


def seal_settings(data: Mapping[str, Any], key: DataKey, guild_id: str) -> dict[str, Any]:
    settings = _copy(data["settings"])
    secrets = {name: _pop(settings, name) for name in SECRET_KEYS}
    plaintext = json.dumps(secrets, sort_keys=True).encode()
    box = seal(key.secret, plaintext, guild_id.encode())
    sealed = {"key": key.key_id, "box": base64.b64encode(box).decode()}
    return {**data, "settings": settings, "sealed": sealed}


def open_settings(data: Mapping[str, Any], key: DataKey | None, guild_id: str) -> dict[str, Any]:
    opened = {name: value for name, value in data.items() if name != "sealed"}
    settings = _copy(data["settings"])
    box = base64.b64decode(data["sealed"]["box"])
    try:
        if key is None:
            raise CannotOpen("the key is gone")
        secrets: dict[str, object] = json.loads(open_box(key.secret, box, guild_id.encode()))
    except CannotOpen:
        for name, value in forgotten_secrets().items():
            _put(settings, name, value)
        return {**opened, "settings": settings, "secrets_forgotten": True}
    for name, value in secrets.items():
        _put(settings, name, value)
    return {**opened, "settings": settings}


def _copy(settings: Mapping[str, Any]) -> dict[str, Any]:
    return {
        name: dict(value) if isinstance(value, Mapping) else value
        for name, value in settings.items()
    }


def _holder(settings: dict[str, Any], key: str) -> tuple[dict[str, Any], str]:
    group, _, name = key.rpartition(".")
    if not group:
        return settings, name
    holder: dict[str, Any] = settings.setdefault(group, {})
    return holder, name


def _pop(settings: dict[str, Any], key: str) -> object:
    holder, name = _holder(settings, key)
    return holder.pop(name)


def _put(settings: dict[str, Any], key: str, value: object) -> None:
    holder, name = _holder(settings, key)
    holder[name] = value
