import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from bot.domain import session, squadron
from bot.domain.events import (
    EVENT_CLASSES,
    RENAMED_TYPES,
    UPCASTERS,
    CreditsGranted,
    CreditsPurchased,
    CreditsRefunded,
    CreditsReserved,
    DomainEvent,
    EventSchemaError,
    GracefulEndStarted,
    IdleStopPostponed,
    IdleStopWarned,
    IdleStopWithdrawn,
    InstanceLaunched,
    InstanceLaunchFailed,
    InstanceLaunchRequested,
    InstanceReady,
    MissionAdded,
    MissionRemoved,
    NoticeDelivered,
    PaidRequestSettled,
    PurchaseClosed,
    PurchaseStarted,
    ReminderSent,
    ReservationReduced,
    ReservationReleased,
    SessionBooked,
    SessionCancelled,
    SessionCharged,
    SessionEnded,
    SessionExtended,
    SquadronSettingsChanged,
    TerminationRequested,
    current_type,
    from_stored,
    to_new_event,
)
from bot.domain.settings import SquadronSettings
from bot.domain.upcasting import EventData, Upcasters
from eventstore import StoredEvent
from tests.bot.domain.streams import stored, stored_from_json

FIXTURES = Path(__file__).parent / "fixtures"
T0 = datetime(2026, 11, 28, 20, 0, tzinfo=UTC)
SETTINGS = SquadronSettings().apply_changes(
    {"srs.enabled": True, "server_name": "true", "missions": ("C:/m/one.miz",)}
)

SAMPLES: dict[type[DomainEvent], DomainEvent] = {
    SquadronSettingsChanged: SquadronSettingsChanged(
        settings=SETTINGS,
        changed=("srs.enabled", "server_name", "missions"),
        secrets_forgotten=False,
    ),
    PurchaseStarted: PurchaseStarted(
        purchase_id="p1",
        amount_cents=2000,
        buyer_id="42",
        checkout_session_id="cs_1",
        intent={"action": "book", "start_at": "2026-12-01T20:00:00+00:00", "flag": True},
    ),
    CreditsPurchased: CreditsPurchased(
        purchase_id="p1",
        amount_cents=2000,
        buyer_id="42",
        checkout_session_id="cs_1",
        payment_event_id="evt_1",
    ),
    PurchaseClosed: PurchaseClosed(purchase_id="p1", reason="expired"),
    PaidRequestSettled: PaidRequestSettled(
        purchase_id="p1", outcome="carried_out", session_id="m1", message=None
    ),
    CreditsGranted: CreditsGranted(amount_cents=500, reason="welcome"),
    CreditsRefunded: CreditsRefunded(
        amount_cents=300, reason="refund", purchase_id=None, shortfall_cents=0, source="admin"
    ),
    CreditsReserved: CreditsReserved(session_id="m1", amount_cents=400),
    ReservationReduced: ReservationReduced(session_id="m1", amount_cents=100),
    ReservationReleased: ReservationReleased(session_id="m1", amount_cents=300),
    SessionCharged: SessionCharged(session_id="m1", minutes=61, amount_cents=254),
    MissionAdded: MissionAdded(
        name="Red Flag 26-1",
        sha256="a" * 64,
        size=123_456,
        filename="red_flag.miz",
        terrain="Nevada",
        sortie="Red Flag",
        mission_start="2016-06-21T08:00:00",
        required_modules=("F-16C bl.50",),
        client_slots={"blue": 4, "red": 2},
        desanitized_scripting=False,
        uploaded_by="42",
    ),
    MissionRemoved: MissionRemoved(name="Red Flag 26-1", sha256="a" * 64),
    SessionBooked: SessionBooked(
        session_id="m1",
        guild_id="1",
        booked_by="42",
        size="medium",
        region="eu-central-1",
        start_at=T0,
        duration_minutes=120,
        rate_cents_per_hour=250,
        immediate=False,
        mission_name="Operation ünïcode",
    ),
    SessionCancelled: SessionCancelled(reason="cancelled"),
    ReminderSent: ReminderSent(key="start-60"),
    NoticeDelivered: NoticeDelivered(key="start-60"),
    InstanceLaunchRequested: InstanceLaunchRequested(
        attempt=1, client_token="m1-1", size="medium", region="eu-central-1", login_ref=None
    ),
    InstanceLaunched: InstanceLaunched(
        attempt=1, instance_id="i-1", provider="local", launched_at=T0 + timedelta(seconds=1.5)
    ),
    InstanceLaunchFailed: InstanceLaunchFailed(
        attempt=1, reason="capacity", message="No capacity in that region."
    ),
    InstanceReady: InstanceReady(address="127.0.0.1", port=10308, ready_at=T0),
    SessionExtended: SessionExtended(added_minutes=30, end_at=T0 + timedelta(hours=3)),
    IdleStopWarned: IdleStopWarned(
        cause="unjoined", idle_since=T0, stop_at=T0 + timedelta(minutes=35)
    ),
    IdleStopPostponed: IdleStopPostponed(until=T0 + timedelta(hours=1)),
    IdleStopWithdrawn: IdleStopWithdrawn(reason="pilot_joined"),
    TerminationRequested: TerminationRequested(
        reason="stopped_by_user", stop_at=T0 + timedelta(minutes=10, seconds=7.25)
    ),
    SessionEnded: SessionEnded(
        reason="stopped_by_user", ended_at=T0, billed_minutes=0, amount_cents=0, instance_id=None
    ),
    GracefulEndStarted: GracefulEndStarted(until=T0 + timedelta(minutes=12, seconds=7.25)),
}


def test_every_event_type_has_a_sample() -> None:
    assert set(SAMPLES) == set(EVENT_CLASSES)


@pytest.mark.parametrize("event", list(SAMPLES.values()), ids=lambda e: e.TYPE)
def test_every_event_round_trips_through_the_store_shape(event: DomainEvent) -> None:
    new = to_new_event(event, {"user_id": "42"})
    assert new.type == event.TYPE
    assert new.schema_version == event.VERSION
    assert new.metadata == {"user_id": "42"}
    assert from_stored(stored(new, "stream#1", 1)) == event


def test_settings_event_is_at_version_3_and_stores_real_booleans() -> None:
    new = to_new_event(SAMPLES[SquadronSettingsChanged], {})
    assert new.schema_version == 3
    assert new.data["settings"]["srs"]["enabled"] is True
    assert new.data["settings"]["server_name"] == "true"


def test_times_are_stored_as_utc_iso_text() -> None:
    berlin = timezone(timedelta(hours=1))
    sample = SAMPLES[SessionBooked]
    assert isinstance(sample, SessionBooked)
    booked = replace(sample, start_at=datetime(2026, 11, 28, 21, tzinfo=berlin))
    data = to_new_event(booked, {}).data
    assert data["start_at"] == "2026-11-28T20:00:00+00:00"


def test_a_naive_time_is_refused_when_writing() -> None:
    sample = SAMPLES[InstanceReady]
    assert isinstance(sample, InstanceReady)
    naive = replace(sample, ready_at=datetime(2026, 11, 28, 20))
    with pytest.raises(ValueError, match="timezone-aware"):
        to_new_event(naive, {})


_VERSIONS = {cls.TYPE: cls.VERSION for cls in EVENT_CLASSES}


def _stored(type_: str, data: EventData, schema_version: int | None = None) -> StoredEvent:
    """Stored at ``schema_version``, by default the type's current one."""
    return StoredEvent(
        stream_id="mission#m1",
        version=3,
        type=type_,
        data=data,
        metadata={},
        id="e",
        recorded_at=T0,
        position=3,
        schema_version=_VERSIONS.get(type_, 1) if schema_version is None else schema_version,
    )


def test_an_unknown_event_type_is_a_clear_error() -> None:
    with pytest.raises(EventSchemaError, match=r"'SessionTeleported'.*does not know"):
        from_stored(_stored("SessionTeleported", {}))


def test_a_schema_version_newer_than_the_code_is_a_clear_error() -> None:
    with pytest.raises(EventSchemaError, match="version 2 is newer than this code reads"):
        from_stored(_stored("ReminderSent", {"key": "x"}, schema_version=2))


def test_a_missing_field_is_a_clear_error() -> None:
    with pytest.raises(EventSchemaError, match="expected"):
        from_stored(_stored("InstanceReady", {"address": "a", "port": 1}))


def test_an_extra_field_is_a_clear_error() -> None:
    with pytest.raises(EventSchemaError, match="expected"):
        from_stored(_stored("ReminderSent", {"key": "x", "extra": 1}))


@pytest.mark.parametrize(
    ("type_", "data"),
    [
        ("CreditsGranted", {"amount_cents": "500", "reason": "r"}),
        ("CreditsGranted", {"amount_cents": True, "reason": "r"}),
        ("SessionBooked", {**to_new_event(SAMPLES[SessionBooked], {}).data, "immediate": "false"}),
        ("InstanceReady", {"address": "a", "port": 1, "ready_at": 5}),
    ],
)
def test_a_field_of_the_wrong_json_type_is_refused(type_: str, data: dict[str, object]) -> None:
    with pytest.raises(EventSchemaError, match="field"):
        from_stored(_stored(type_, data))


def test_a_stored_time_without_offset_is_refused() -> None:
    data = {"address": "a", "port": 1, "ready_at": "2026-11-28T20:00:00"}
    with pytest.raises(EventSchemaError, match="no UTC offset"):
        from_stored(_stored("InstanceReady", data))


def test_settings_added_after_an_event_was_written_take_their_defaults() -> None:
    data = to_new_event(SAMPLES[SquadronSettingsChanged], {}).data
    del data["settings"]["tacview"]["recording"]
    del data["settings"]["description"]
    event = from_stored(_stored("SquadronSettingsChanged", data, schema_version=2))
    assert isinstance(event, SquadronSettingsChanged)
    assert event.settings.tacview.recording is True
    assert event.settings.srs.enabled is True


def test_stored_settings_that_no_longer_fit_are_a_clear_error() -> None:
    data = to_new_event(SAMPLES[SquadronSettingsChanged], {}).data
    data["settings"]["max_players"] = 100_000
    with pytest.raises(EventSchemaError, match="max_players"):
        from_stored(_stored("SquadronSettingsChanged", data, schema_version=2))


# --- upcasting ----------------------------------------------------------------------------------


def _fixture(name: str) -> list[StoredEvent]:
    content = json.loads((FIXTURES / name).read_text(encoding="utf-8"))
    return [stored_from_json(content["stream_id"], item) for item in content["events"]]


def test_v1_settings_history_loads_with_booleans_not_strings() -> None:
    history = _fixture("squadron_settings_v1.json")
    assert all(event.schema_version == 1 for event in history)
    events = [from_stored(event) for event in history]
    first, last = events[0], events[2]
    assert isinstance(first, SquadronSettingsChanged)
    assert isinstance(last, SquadronSettingsChanged)
    assert first.settings.srs.enabled is True
    assert first.settings.tacview.enabled is True
    assert first.settings.is_public is False
    assert first.settings.lotatc.enabled is False
    assert last.settings.lotatc.enabled is True
    assert last.settings.tacview.recording is False
    assert last.settings.advanced.event_kill is True
    assert last.changed == ("lotatc.blue_password", "lotatc.enabled", "tacview.recording")


def test_v1_upcast_leaves_text_settings_that_read_true_as_text() -> None:
    first = from_stored(_fixture("squadron_settings_v1.json")[0])
    assert isinstance(first, SquadronSettingsChanged)
    assert first.settings.server_name == "true"


def test_an_upcast_v1_snapshot_equals_the_same_settings_written_today() -> None:
    last = from_stored(_fixture("squadron_settings_v1.json")[2])
    assert isinstance(last, SquadronSettingsChanged)
    expected = SquadronSettings().apply_changes(
        {
            "srs.enabled": True,
            "tacview.enabled": True,
            "is_public": False,
            "server_name": "true",
            "lotatc.blue_password": "bluepw",
            "lotatc.enabled": True,
            "tacview.recording": False,
        }
    )
    assert last.settings == expected
    assert last.settings.to_data() == expected.to_data()


def test_v1_settings_history_folds_into_the_squadron_state() -> None:
    state = squadron.initial_squadron
    for event in _fixture("squadron_settings_v1.json"):
        state = squadron.evolve(state, event)
    assert state.guild_id == "111222333444555666"
    assert state.balance_cents == 2500
    assert state.settings.lotatc.enabled is True
    assert state.settings.srs.enabled is True


def test_v1_session_history_loads_into_an_ended_session() -> None:
    state = session.initial_session
    for event in _fixture("mission_history_v1.json"):
        state = session.evolve(state, event)
    assert state is not None
    assert state.status is session.SessionStatus.ENDED
    assert state.billed_minutes == 95
    assert state.reminders_sent == frozenset({"start-60", "ready"})


def test_a_v1_stop_request_is_dated_by_when_it_was_recorded() -> None:
    history = _fixture("mission_history_v1.json")
    request = history[6]
    assert (request.type, request.schema_version) == ("TerminationRequested", 1)
    upcast = from_stored(request)
    assert upcast == TerminationRequested(reason="stopped_by_user", stop_at=None)
    state = session.initial_session
    for event in history[:7]:
        state = session.evolve(state, event)
    assert state is not None and state.stop_at == request.recorded_at


def test_a_v1_booking_reads_as_session_booked_with_its_session_id() -> None:
    booked = from_stored(_fixture("mission_history_v1.json")[0])
    assert isinstance(booked, SessionBooked)
    assert booked.session_id == "3f6c1a52-8d0e-4b7a-9c41-2e5d7f80a913"
    assert booked.mission_name == "Red Flag"


def test_every_event_type_stored_under_its_mission_era_name_reads_as_today() -> None:
    """Frozen: each sample as rr stored it while a session was called a mission."""
    before = _fixture("every_event_type_before_sessions.json")
    assert set(RENAMED_TYPES) <= {event.type for event in before}
    assert [from_stored(event) for event in before] == _samples_of(before)


def test_every_event_type_stored_under_its_session_name_reads_back() -> None:
    """Frozen: each sample as rr stores it since the rename."""
    today = _fixture("every_event_type_sessions.json")
    assert not {event.type for event in today} & set(RENAMED_TYPES)
    assert [from_stored(event) for event in today] == _samples_of(today)


def _samples_of(history: list[StoredEvent]) -> list[DomainEvent]:
    """The samples of the types a frozen history holds (types added since are not in it)."""
    types = {current_type(event.type) for event in history}
    return [sample for sample in SAMPLES.values() if sample.TYPE in types]


def test_a_v2_booking_had_its_mission_on_the_image() -> None:
    today = _fixture("every_event_type_sessions.json")
    (booked,) = [from_stored(e) for e in today if e.type == SessionBooked.TYPE]

    assert isinstance(booked, SessionBooked)
    assert (booked.mission_sha256, booked.mission_key) == (None, None)


def test_an_old_type_name_maps_to_the_type_it_is_now() -> None:
    assert current_type("MissionBooked") == SessionBooked.TYPE
    assert current_type("ReminderSent") == ReminderSent.TYPE


def test_upcasters_chain_from_an_old_version_to_the_current() -> None:
    upcasters = Upcasters()

    @upcasters.register("Thing", 1)
    def rename(data: EventData) -> EventData:
        return {"size": data["sz"]}

    @upcasters.register("Thing", 2)
    def add_unit(data: EventData) -> EventData:
        return {**data, "unit": "m"}

    assert upcasters.upcast("Thing", 1, 3, {"sz": 4}) == {"size": 4, "unit": "m"}
    assert upcasters.upcast("Thing", 2, 3, {"size": 5}) == {"size": 5, "unit": "m"}
    assert upcasters.upcast("Thing", 3, 3, {"size": 6, "unit": "cm"}) == {"size": 6, "unit": "cm"}


def test_a_gap_in_the_upcaster_chain_is_a_clear_error() -> None:
    upcasters = Upcasters()
    upcasters.register("Thing", 1)(lambda data: data)
    with pytest.raises(EventSchemaError, match="no upcaster from schema version 2 to 3"):
        upcasters.upcast("Thing", 1, 3, {})


def test_an_upcaster_cannot_be_registered_twice() -> None:
    upcasters = Upcasters()
    upcasters.register("Thing", 1)(lambda data: data)
    with pytest.raises(ValueError, match="already has an upcaster"):
        upcasters.register("Thing", 1)(lambda data: data)


def test_a_schema_version_below_one_is_a_clear_error() -> None:
    with pytest.raises(EventSchemaError, match="versions start at 1"):
        UPCASTERS.upcast("ReminderSent", 0, 1, {"key": "x"})
