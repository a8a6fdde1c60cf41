"""Archives refused before anything in them is unpacked, each with one plain sentence."""

from __future__ import annotations

import io
import tracemalloc
import warnings
import zipfile

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.files.miz import MizLimits, MizRejected, read_mission
from tests.bot.files.miz.missions import MissionPlan, build_mission

MISSION = b'mission = { theatre = "Caucasus", date = { Year = 2020, Month = 1, Day = 2 }, ' + (
    b"start_time = 0 }"
)


def archive(
    *entries: tuple[str | zipfile.ZipInfo, bytes], method: int = zipfile.ZIP_DEFLATED
) -> io.BytesIO:
    file = io.BytesIO()
    with warnings.catch_warnings(), zipfile.ZipFile(file, "w", method) as zip_file:
        warnings.simplefilter("ignore")  # duplicate names are written on purpose
        for name, data in entries:
            zip_file.writestr(name, data)
    file.seek(0)
    return file


def refusal(file: io.BytesIO, limits: MizLimits | None = None) -> str:
    with pytest.raises(MizRejected) as refused:
        read_mission(file, limits)
    message = str(refused.value)
    assert message.count(". ") == 0 and message.endswith(".")  # one sentence
    return message


def test_a_minimal_mission_is_read() -> None:
    summary = read_mission(archive(("mission", MISSION)))
    assert (summary.terrain, str(summary.date), summary.client_slots) == (
        "Caucasus",
        "2020-01-02",
        {},
    )


@pytest.mark.parametrize("data", [b"", b"mission = {}", b"PK\x03\x04" + b"\x00" * 100])
def test_not_a_zip(data: bytes) -> None:
    assert "is not a DCS mission: a .miz is a zip archive" in refusal(io.BytesIO(data))


def test_a_file_over_the_size_setting() -> None:
    message = refusal(archive(("mission", MISSION)), MizLimits(max_file_bytes=100))
    assert message.startswith("This file is 0.0 MB and rr accepts missions up to 0.0 MB")


def test_too_many_entries() -> None:
    entries = [("mission", MISSION)] + [(f"l10n/DEFAULT/{n}.ogg", b"") for n in range(10)]
    assert "holds 11 files and rr accepts at most 10" in refusal(
        archive(*entries), MizLimits(max_entries=10)
    )


def test_a_zip_bomb_is_refused_by_its_ratio_without_unpacking() -> None:
    bomb = archive(("mission", MISSION), ("l10n/DEFAULT/boom.ogg", bytes(50 * 1024 * 1024)))
    tracemalloc.start()
    try:
        message = refusal(bomb)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert "would unpack to 1,0" in message and "times its size" in message
    assert peak < 1024 * 1024


def test_the_unpacked_total_is_capped() -> None:
    files = archive(("mission", MISSION), ("a.ogg", bytes(2_000_000)))
    limits = MizLimits(max_unpacked_bytes=1_000_000, max_compression_ratio=10_000)
    assert "would unpack to 2.0 MB and rr accepts at most 1.0 MB" in refusal(files, limits)


def test_a_big_mission_file_is_refused_by_its_stated_size() -> None:
    files = archive(("mission", MISSION + b" " * 2000))
    limits = MizLimits(max_mission_bytes=1000, max_compression_ratio=10_000)
    assert "The 'mission' file inside this .miz is 0.0 MB and rr reads at most" in refusal(
        files, limits
    )


@pytest.mark.parametrize(
    "name", ["../evil.lua", "/etc/passwd", "C:/Windows/x.dll", "l10n/../../x", "a\\..\\b", "\\x"]
)
def test_names_outside_the_mission_are_refused(name: str) -> None:
    message = refusal(archive(("mission", MISSION), (name, b"x")))
    assert f"holds a file named {name!r}, which points outside the mission" in message


def test_no_mission_file() -> None:
    assert "has no 'mission' file inside" in refusal(archive(("options", b"options = {}")))


def test_two_entries_with_one_name() -> None:
    files = archive(("mission", MISSION), ("mission", b"mission = {}"))
    assert "holds two files named 'mission'" in refusal(files)


def test_password_protected_entries() -> None:
    data = bytearray(archive(("mission", MISSION)).getvalue())
    local, central = data.index(b"PK\x03\x04"), data.index(b"PK\x01\x02")
    data[local + 6] |= 0x1  # the "encrypted" flag, in both headers
    data[central + 8] |= 0x1
    assert "is password-protected" in refusal(io.BytesIO(bytes(data)))


def test_packing_dcs_cannot_read() -> None:
    files = archive(("mission", MISSION), method=zipfile.ZIP_BZIP2)
    assert "is packed in a way DCS cannot read" in refusal(files)


def test_a_damaged_entry() -> None:
    data = archive(("mission", MISSION), method=zipfile.ZIP_STORED).getvalue()
    damaged = data.replace(b"Caucasus", b"Caucasuz", 1)
    assert "The file 'mission' inside this .miz is damaged" in refusal(io.BytesIO(damaged))


@pytest.fixture(scope="module")
def small_miz(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    path = tmp_path_factory.mktemp("miz") / "small.miz"
    return build_mission(MissionPlan(ai_groups=0, blue_clients=1), path).read_bytes()


@given(st.data())
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_any_damage_is_read_or_refused_in_a_sentence(small_miz: bytes, data: st.DataObject) -> None:
    damaged = bytearray(small_miz)
    for _ in range(data.draw(st.integers(1, 8))):
        damaged[data.draw(st.integers(0, len(damaged) - 1))] = data.draw(st.integers(0, 255))
    if data.draw(st.booleans()):
        damaged = damaged[: data.draw(st.integers(0, len(damaged)))]
    try:
        read_mission(io.BytesIO(bytes(damaged)))
    except MizRejected as refused:
        assert str(refused).endswith(".")


def test_a_zip_needing_a_newer_format_version_is_refused_in_a_sentence(small_miz: bytes) -> None:
    damaged = bytearray(small_miz)
    central = damaged.index(b"PK\x01\x02")
    damaged[central + 6 : central + 8] = (64).to_bytes(2, "little")  # version needed: 6.4
    with pytest.raises(MizRejected, match=r"a \.miz is a zip archive"):
        read_mission(io.BytesIO(bytes(damaged)))


def test_the_damaged_mission_starts_out_readable(small_miz: bytes) -> None:
    assert read_mission(io.BytesIO(small_miz)).client_slots["blue"].total == 1
