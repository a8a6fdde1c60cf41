"""Reads rr's EC2 user data back the way its PowerShell does: base64, gunzip, index, slices."""

import base64
import gzip
import json
import re

_PAYLOAD = re.compile(r"^\$Payload = '([A-Za-z0-9+/=]+)'$", re.MULTILINE)


def files_in_user_data(script: str) -> dict[str, bytes]:
    match = _PAYLOAD.search(script)
    assert match is not None, "the user data has no payload"
    data = gzip.decompress(base64.b64decode(match.group(1), validate=True))
    header, _, body = data.partition(b"\n")
    files = {}
    offset = 0
    for entry in json.loads(header):
        files[entry["path"]] = body[offset : offset + entry["size"]]
        offset += entry["size"]
    assert offset == len(body), "the payload holds bytes no index entry accounts for"
    return files
