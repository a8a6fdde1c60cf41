"""A campaign save is checked before rr keeps it: a zip whose names stay in their folder, within
the bounds of an uploaded mission."""

import io
import zipfile

import pytest

from bot.files.miz.limits import MizLimits
from bot.files.saves import SaveRejected, check_save

LIMITS = MizLimits()


def zipped(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def test_a_save_of_plain_files_is_kept() -> None:
    data = zipped({"pretense.json": b'{"zones": 3}', "dsmc/state.lua": b"t = {}"})
    assert check_save(data, LIMITS) == ["pretense.json", "dsmc/state.lua"]


@pytest.mark.parametrize(
    ("data", "says"),
    [
        (b"not a zip", "not a zip"),
        (zipped({"../escape.lua": b"x"}), "named"),
        (zipped({"/abs.lua": b"x"}), "named"),
        (zipped({"C:/x.lua": b"x"}), "named"),
        (zipped({"a\\..\\..\\b": b"x"}), "named"),
        (zipped({"bomb.json": b"\0" * 5_000_000}), "far more"),
        (zipped({f"f{i}": b"" for i in range(LIMITS.max_entries + 1)}), "files"),
    ],
)
def test_a_hostile_save_is_refused_in_one_sentence(data: bytes, says: str) -> None:
    with pytest.raises(SaveRejected, match=says):
        check_save(data, LIMITS)


def test_a_save_over_the_size_cap_is_refused() -> None:
    with pytest.raises(SaveRejected, match="bytes"):
        check_save(zipped({"a": b"x" * 100}), MizLimits(max_file_bytes=50))
