"""Squadron settings: defaults, the catalogue, validation, text input, the JSON round trip."""

from __future__ import annotations

import dataclasses
import json
import re
from typing import Any, ClassVar

import pytest
from hypothesis import given, settings

from bot.domain.settings import (
    SETTINGS_CATALOGUE,
    AwsRegion,
    Choice,
    DiscordId,
    Flag,
    IniText,
    MissionPaths,
    SaveFolder,
    SettingsError,
    SquadronSettings,
    Text,
    TimeZone,
    WholeNumber,
    parse_setting,
    setting_spec,
)
from tests.bot.dcs.strategies import squadron_settings

DEFAULTS = SquadronSettings()
SECRET_KEYS = {
    "password",
    "lotatc.blue_password",
    "lotatc.red_password",
    "srs.blue_password",
    "srs.red_password",
    "tacview.telemetry_password",
    "tacview.remote_control_password",
}
ONE_SENTENCE = re.compile(r"[^\n]+[^.]\.")


def assert_one_plain_sentence(message: str, key: str) -> None:
    assert ONE_SENTENCE.fullmatch(message), message
    assert ". " not in message and key in message, message


def bad_values(rule: object) -> list[object]:
    """Values of the right and wrong types that each rule must refuse."""
    match rule:
        case Flag():
            return ["true", "false", 1, 0, None]
        case WholeNumber(minimum=low, maximum=high):
            return [low - 1, high + 1, str(low), float(low), True, None]
        case Text(max_length=limit, required=required):
            blanks = ["", "   \n"] if required else []
            return [5, None, b"bytes", "x" * (limit + 1), "bad \ud800", *blanks]
        case IniText(max_length=limit):
            return ["a b", "a=b", "a;b", "a#b", "[a]", 'a"', "a\\b", "a\nb", "x" * (limit + 1), 5]
        case Choice():
            return ["huge", "MEDIUM", "", 1, None]
        case DiscordId():
            return ["abc", "0123", "", 123, "1" * 21, str(2**64), "<#123>"]
        case TimeZone():
            return ["Mars/Olympus", "utc", "localtime", "Factory", "../etc/passwd", "", 0]
        case AwsRegion():
            return ["EU-CENTRAL-1", "eu central 1", "", "eu-central", 1]
        case SaveFolder():
            return ["../Saves", "/abs", "C:\\Saves", "Saves\\x", "a/../b", "a//b", ".hidden", 5]
        case MissionPaths(max_count=count):
            return [
                ["a.miz"],
                "a.miz",
                ("a.txt",),
                (".miz",),
                ("a\n.miz",),
                ("a\x00.miz",),
                ("C:\\" + "x" * 260 + ".miz",),
                ("x.miz",) * (count + 1),
                (1,),
            ]
    raise AssertionError(f"no bad values for {rule!r}")


class TestDefaults:
    def test_a_new_squadron_gets_a_complete_valid_set(self) -> None:
        assert SquadronSettings.from_data(DEFAULTS.to_data()) == DEFAULTS
        assert DEFAULTS.server_name and DEFAULTS.max_players == 16 and DEFAULTS.game_port == 10308

    def test_add_ons_are_off_until_an_admin_switches_them_on(self) -> None:
        assert not (DEFAULTS.lotatc.enabled or DEFAULTS.srs.enabled or DEFAULTS.tacview.enabled)

    def test_defaults_use_the_ports_the_add_ons_document(self) -> None:
        ports = (DEFAULTS.lotatc.port, DEFAULTS.srs.port, DEFAULTS.tacview.telemetry_port)
        assert ports == (10310, 5002, 42674)
        assert DEFAULTS.tacview.remote_control_port == 42675

    def test_settings_are_immutable(self) -> None:
        with pytest.raises(dataclasses.FrozenInstanceError):
            DEFAULTS.max_players = 4  # type: ignore[misc]


class TestCatalogue:
    def test_every_field_is_in_the_catalogue_once_in_data_order(self) -> None:
        def flat_keys(data: dict[str, Any], prefix: str = "") -> list[str]:
            keys: list[str] = []
            for name, value in data.items():
                is_group = isinstance(value, dict)
                keys += flat_keys(value, f"{prefix}{name}.") if is_group else [prefix + name]
            return keys

        assert [spec.key for spec in SETTINGS_CATALOGUE] == flat_keys(DEFAULTS.to_data())

    def test_each_entry_has_a_one_line_help_and_the_default_value(self) -> None:
        for spec in SETTINGS_CATALOGUE:
            assert spec.help.endswith(".") and "\n" not in spec.help, spec.key
            assert spec.default == DEFAULTS.public_view()[spec.key] or spec.secret, spec.key
            assert spec.allowed and spec.kind

    def test_exactly_the_passwords_are_secret(self) -> None:
        assert {spec.key for spec in SETTINGS_CATALOGUE if spec.secret} == SECRET_KEYS

    def test_choices_are_offered_for_flags_sizes_and_time_zones(self) -> None:
        assert setting_spec("srs.enabled").choices() == ("yes", "no")
        assert setting_spec("instance_size").choices() == ("small", "medium", "large")
        zones = setting_spec("timezone").choices()
        assert "Europe/Berlin" in zones and "UTC" in zones and "localtime" not in zones
        assert setting_spec("server_name").choices() == ()

    def test_an_unknown_key_is_refused_in_one_sentence(self) -> None:
        with pytest.raises(SettingsError) as caught:
            setting_spec("lotatc.colour")
        assert_one_plain_sentence(str(caught.value), "lotatc.colour")


class TestValidation:
    @pytest.mark.parametrize("spec", SETTINGS_CATALOGUE, ids=lambda spec: spec.key)
    def test_each_setting_refuses_bad_values_in_one_plain_sentence(self, spec: Any) -> None:
        for value in bad_values(spec.rule):
            with pytest.raises(SettingsError) as caught:
                DEFAULTS.apply_changes({spec.key: value})
            message = str(caught.value)
            assert_one_plain_sentence(message, spec.key)
            assert message.startswith(spec.key)

    def test_the_message_says_what_is_allowed(self) -> None:
        with pytest.raises(
            SettingsError, match=r"^max_players must be a whole number from 1 to 128\.$"
        ):
            DEFAULTS.apply_changes({"max_players": 129})

    def test_a_refused_change_leaves_the_settings_unchanged(self) -> None:
        with pytest.raises(SettingsError):
            DEFAULTS.apply_changes({"max_players": 32, "game_port": 80})
        assert DEFAULTS.max_players == 16

    def test_constructing_invalid_settings_directly_is_refused(self) -> None:
        with pytest.raises(SettingsError, match=r"^max_players"):
            SquadronSettings(max_players=0)

    def test_several_changes_apply_together(self) -> None:
        changed = DEFAULTS.apply_changes(
            {"max_players": 32, "srs.enabled": True, "tacview.telemetry_port": 42000}
        )
        assert (changed.max_players, changed.srs.enabled) == (32, True)
        assert changed.tacview.telemetry_port == 42000
        assert changed.lotatc == DEFAULTS.lotatc

    def test_secret_values_are_never_echoed_in_errors(self) -> None:
        secret = "hunter2 = very secret"
        for key in ("srs.blue_password", "password"):
            with pytest.raises(SettingsError) as caught:
                DEFAULTS.apply_changes({key: secret * 10})
            assert "hunter2" not in str(caught.value)


class TestRulesBetweenSettings:
    def expect_refusal(self, changes: dict[str, object], *keys: str) -> None:
        with pytest.raises(SettingsError) as caught:
            DEFAULTS.apply_changes(changes)
        for key in keys:
            assert_one_plain_sentence(str(caught.value), key)

    def test_lotatc_needs_a_coalition_password_before_it_is_enabled(self) -> None:
        self.expect_refusal({"lotatc.enabled": True}, "lotatc.enabled", "lotatc.blue_password")

    def test_lotatc_coalition_passwords_must_differ(self) -> None:
        same = {"lotatc.enabled": True, "lotatc.blue_password": "x", "lotatc.red_password": "x"}
        self.expect_refusal(same, "lotatc.blue_password", "lotatc.red_password")

    def test_lotatc_runs_with_only_one_coalition(self) -> None:
        changed = DEFAULTS.apply_changes({"lotatc.enabled": True, "lotatc.blue_password": "b"})
        assert changed.lotatc.enabled

    def test_srs_external_awacs_mode_needs_two_different_passwords(self) -> None:
        self.expect_refusal({"srs.eam_enabled": True, "srs.blue_password": "b"}, "srs.eam_enabled")
        self.expect_refusal(
            {"srs.eam_enabled": True, "srs.blue_password": "b", "srs.red_password": "b"},
            "srs.blue_password",
        )

    def test_tacview_remote_control_needs_a_password(self) -> None:
        self.expect_refusal(
            {"tacview.remote_control_enabled": True}, "tacview.remote_control_password"
        )

    def test_two_running_services_cannot_share_a_port(self) -> None:
        self.expect_refusal({"srs.enabled": True, "srs.port": 10308}, "srs.port", "game_port")
        self.expect_refusal(
            {
                "tacview.enabled": True,
                "tacview.telemetry_port": 42675,
                "tacview.remote_control_enabled": True,
                "tacview.remote_control_password": "p",
            },
            "tacview.telemetry_port",
            "tacview.remote_control_port",
        )

    def test_a_setting_cannot_take_a_port_the_server_uses_itself(self) -> None:
        self.expect_refusal({"game_port": 8088}, "game_port", "WebGUI")
        self.expect_refusal(
            {
                "srs.enabled": True,
                "lotatc.enabled": True,
                "lotatc.blue_password": "b",
                "srs.port": 10712,
            },
            "srs.port",
        )

    def test_a_switched_off_add_on_does_not_hold_its_port(self) -> None:
        assert DEFAULTS.apply_changes({"srs.port": 10308}).srs.port == 10308


class TestTextInput:
    @pytest.mark.parametrize(
        ("key", "text", "value"),
        [
            ("srs.enabled", "yes", True),
            ("srs.enabled", " Off ", False),
            ("srs.enabled", "TRUE", True),
            ("tacview.enabled", "0", False),
            ("tacview.telemetry_port", "42674", 42674),
            ("lotatc.blue_max_clients", "-1", -1),
            ("max_players", " 32 ", 32),
            ("instance_size", "Large", "large"),
            ("timezone", "europe/berlin", "Europe/Berlin"),
            ("region", "EU-West-1", "eu-west-1"),
            ("reminder_channel_id", "<#1234567890123456789>", "1234567890123456789"),
            ("manager_role_id", "<@&42>", "42"),
            ("manager_role_id", "none", None),
            ("reminder_channel_id", "", None),
            ("server_name", '  Wolfpack "1"  ', '  Wolfpack "1"  '),
            ("password", "", ""),
            (
                "missions",
                "C:\\M\\a.miz; C:\\M\\b.MIZ\nc.miz",
                ("C:\\M\\a.miz", "C:\\M\\b.MIZ", "c.miz"),
            ),
            ("missions", "none", ()),
        ],
    )
    def test_typed_text_becomes_the_typed_value(self, key: str, text: str, value: object) -> None:
        parsed = parse_setting(key, text)
        assert parsed == value and type(parsed) is type(value)
        assert DEFAULTS.apply_changes({key: parsed}).value(key) == value

    @pytest.mark.parametrize(
        ("key", "text"),
        [
            ("srs.enabled", "maybe"),
            ("srs.enabled", ""),
            ("max_players", "12abc"),
            ("max_players", "1e3"),
            ("max_players", "٣"),
            ("max_players", "1_000"),
            ("game_port", "80"),
            ("instance_size", "huge"),
            ("timezone", "Mars/Olympus"),
            ("region", "mars"),
            ("reminder_channel_id", "#general"),
            ("missions", "a.txt"),
            ("srs.red_password", "has space"),
            ("server_name", "   "),
        ],
    )
    def test_nonsense_text_is_refused_in_one_plain_sentence(self, key: str, text: str) -> None:
        with pytest.raises(SettingsError) as caught:
            parse_setting(key, text)
        assert_one_plain_sentence(str(caught.value), key)

    def test_text_for_an_unknown_key_is_refused(self) -> None:
        with pytest.raises(SettingsError, match="no setting called"):
            parse_setting("colour", "red")


class TestStoredData:
    @given(squadron_settings())
    @settings(deadline=None, max_examples=60)
    def test_settings_survive_json_exactly(self, original: SquadronSettings) -> None:
        data = original.to_data()
        text = json.dumps(data, allow_nan=False, ensure_ascii=False)
        assert json.loads(text) == data
        assert SquadronSettings.from_data(json.loads(text)) == original

    def test_data_keeps_exact_types(self) -> None:
        data = DEFAULTS.apply_changes({"missions": ("a.miz",), "srs.enabled": True}).to_data()
        assert data["srs"]["enabled"] is True and data["max_players"] == 16
        assert type(data["max_players"]) is int and data["missions"] == ["a.miz"]
        assert data["reminder_channel_id"] is None

    @pytest.mark.parametrize(
        ("path", "value"),
        [
            (("lotatc", "enabled"), "true"),
            (("srs", "enabled"), "false"),
            (("tacview", "enabled"), 1),
            (("max_players",), 16.0),
            (("max_players",), True),
            (("game_port",), "10308"),
            (("missions",), ("a.miz",)),
            (("reminder_channel_id",), 1234),
            (("advanced",), []),
            (("srs",), None),
        ],
    )
    def test_a_mistyped_entry_is_refused(self, path: tuple[str, ...], value: object) -> None:
        data = DEFAULTS.to_data()
        target = data
        for name in path[:-1]:
            target = target[name]
        target[path[-1]] = value
        with pytest.raises(SettingsError, match="^" + re.escape(".".join(path))):
            SquadronSettings.from_data(data)

    def test_a_missing_entry_is_refused(self) -> None:
        data = DEFAULTS.to_data()
        del data["tacview"]["telemetry_port"]
        with pytest.raises(SettingsError, match=r"^tacview\.telemetry_port is missing"):
            SquadronSettings.from_data(data)

    def test_an_unknown_entry_is_refused(self) -> None:
        data = DEFAULTS.to_data()
        data["srs"]["volume"] = 11
        with pytest.raises(SettingsError, match=r"^srs\.volume is not a known setting"):
            SquadronSettings.from_data(data)

    @pytest.mark.parametrize("data", [None, [], "settings", 1])
    def test_data_that_is_not_an_object_is_refused(self, data: object) -> None:
        with pytest.raises(SettingsError, match="JSON object"):
            SquadronSettings.from_data(data)


class TestSecrets:
    MARKERS: ClassVar[dict[str, str]] = {
        key: f"secret-{index}-marker" for index, key in enumerate(sorted(SECRET_KEYS))
    }

    def with_every_secret_set(self) -> SquadronSettings:
        return DEFAULTS.apply_changes(dict(self.MARKERS))

    def test_secrets_never_appear_in_repr_or_str(self) -> None:
        secret_settings = self.with_every_secret_set()
        shown = repr(secret_settings) + str(secret_settings)
        shown += (
            repr(secret_settings.lotatc) + repr(secret_settings.srs) + str(secret_settings.tacview)
        )
        assert not any(marker in shown for marker in self.MARKERS.values())

    def test_the_public_view_masks_set_secrets_and_shows_unset_ones_as_empty(self) -> None:
        view = self.with_every_secret_set().public_view()
        assert {view[key] for key in SECRET_KEYS} == {"********"}
        assert all(DEFAULTS.public_view()[key] == "" for key in SECRET_KEYS)

    def test_the_public_view_shows_everything_else_as_it_is(self) -> None:
        changed = DEFAULTS.apply_changes({"server_name": "Wolfpack", "missions": ("a.miz",)})
        view = changed.public_view()
        assert list(view) == [spec.key for spec in SETTINGS_CATALOGUE]
        assert view["server_name"] == "Wolfpack" and view["missions"] == ["a.miz"]
        json.dumps(view)

    def test_secrets_are_kept_for_the_renderer(self) -> None:
        secret_settings = self.with_every_secret_set()
        assert secret_settings.password == self.MARKERS["password"]
        assert secret_settings.to_data()["srs"]["red_password"] == self.MARKERS["srs.red_password"]
