"""Squadrons' files: reading DCS missions (``miz``) and the object store they live in."""
