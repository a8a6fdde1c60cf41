"""The object store for squadrons' files: missions they upload, debriefs their servers send back.

`ObjectStore` (``base``) is the interface; `LocalObjectStore` (a folder, the default, with
signed routes on rr's web app) and `S3ObjectStore` implement it; `open_object_store` builds one
from RR_FILES_STORE. Keys (`ObjectKey`) are content-addressed under ``squadrons/<id>/`` for
what rr stores itself (missions), and under ``debriefs/<squadron>/<session>/`` for what a
server uploads through a link at a session's end.
"""

from bot.files.store.base import ObjectInfo, ObjectNotFound, ObjectStore, UploadLink
from bot.files.store.keys import InvalidKey, ObjectKey
from bot.files.store.local import LocalObjectStore
from bot.files.store.open import open_object_store
from bot.files.store.s3 import S3ObjectStore

__all__ = [
    "InvalidKey",
    "LocalObjectStore",
    "ObjectInfo",
    "ObjectKey",
    "ObjectNotFound",
    "ObjectStore",
    "S3ObjectStore",
    "UploadLink",
    "open_object_store",
]
