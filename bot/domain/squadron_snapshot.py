"""A squadron's folded state as bytes, to load a long stream from a snapshot plus its tail.

The settings are left out, since they hold secrets that the store keeps only sealed: the
snapshot names the version of the event that set them (`settings_version`), and the loader
reads that one event (opened like any other) to complete the state (`with_settings`).

The text is JSON: ``{"schema": SCHEMA, "state": {...}}``. `SCHEMA` names this code's shape of
`SquadronState` and what its fold means; bump it whenever either changes (a field added, an
event folded differently), and snapshots written by other code are ignored: `decode` returns
None and the stream is folded from its events, as if there were no snapshot.

The state holds no history (see `SquadronState`), so a snapshot loads fast however long the
stream: the purchases still in play and the library missions are written as rows, and the
credited purchases' `Credit`s as the JSON text `CreditedPurchases` parses only when a decision
asks about one.
"""

import json
from dataclasses import replace
from datetime import datetime
from typing import Any

from immutables import Map

from bot.domain.credited_purchases import CreditedPurchases
from bot.domain.events import DomainEvent, SquadronSettingsChanged
from bot.domain.library import LibraryMission, MissionFacts, name_key
from bot.domain.settings import SquadronSettings
from bot.domain.squadron import Purchase, SquadronState

SCHEMA = "squadron/3"
"""2: with the mission library; 3: without past purchases, with their `Credit`s."""


def encode(state: SquadronState) -> bytes:
    document = {"schema": SCHEMA, "state": to_document(state)}
    return json.dumps(document, separators=(",", ":")).encode()


def decode(data: bytes) -> SquadronState | None:
    """The state ``data`` holds, with default settings until `with_settings` puts in those of
    event `settings_version`; None when it was written by code of another `SCHEMA`."""
    document = json.loads(data)
    if document.get("schema") != SCHEMA:
        return None
    return from_document(document["state"])


def to_document(state: SquadronState) -> dict[str, Any]:
    """The state without its settings, as JSON-ready data (other checkpoints embed it under
    `SCHEMA` too)."""
    return {
        "guild_id": state.guild_id,
        "settings_version": state.settings_version,
        "balance_cents": state.balance_cents,
        "reservations": list(state.reservations.items()),
        "purchases": [_purchase_row(purchase) for purchase in state.purchases.values()],
        "credited": state.credited.to_text(),
        "missions": [_mission_row(mission) for mission in state.missions.values()],
    }


def from_document(saved: dict[str, Any]) -> SquadronState:
    """The state `to_document` wrote, with default settings (see `decode`)."""
    purchases = (_purchase(row) for row in saved["purchases"])
    missions = (_mission(row) for row in saved["missions"])
    return SquadronState(
        guild_id=saved["guild_id"],
        settings=SquadronSettings(),
        settings_version=saved["settings_version"],
        balance_cents=saved["balance_cents"],
        reservations={session_id: cents for session_id, cents in saved["reservations"]},
        purchases=Map((purchase.purchase_id, purchase) for purchase in purchases),
        credited=CreditedPurchases(saved["credited"]),
        missions=Map((name_key(mission.name), mission) for mission in missions),
    )


def with_settings(state: SquadronState, event: DomainEvent) -> SquadronState:
    """``state`` with the settings of the event `settings_version` names."""
    if not isinstance(event, SquadronSettingsChanged):
        raise TypeError(f"Version {state.settings_version} is a {event.TYPE}, not the settings.")
    return replace(state, settings=event.settings, secrets_forgotten=event.secrets_forgotten)


def _purchase_row(purchase: Purchase) -> list[Any]:
    return [
        purchase.purchase_id,
        purchase.amount_cents,
        purchase.buyer_id,
        purchase.checkout_session_id,
        purchase.status,
        None if purchase.intent is None else dict(purchase.intent),
        None if purchase.started_at is None else purchase.started_at.isoformat(),
    ]


def _purchase(row: list[Any]) -> Purchase:
    (purchase_id, amount, buyer, checkout_session, status, intent, started) = row
    return Purchase(
        purchase_id=purchase_id,
        amount_cents=amount,
        buyer_id=buyer,
        checkout_session_id=checkout_session,
        status=status,
        intent=intent,
        started_at=None if started is None else datetime.fromisoformat(started),
    )


def _mission_row(mission: LibraryMission) -> list[Any]:
    facts = mission.facts
    return [
        mission.name,
        facts.sha256,
        facts.size,
        facts.filename,
        facts.terrain,
        facts.sortie,
        facts.mission_start,
        list(facts.required_modules),
        dict(facts.client_slots),
        facts.desanitized_scripting,
        mission.uploaded_by,
        mission.added_at.isoformat(),
    ]


def _mission(row: list[Any]) -> LibraryMission:
    (name, sha256, size, filename, terrain, sortie, start, modules, slots, desanitized) = row[:10]
    uploaded_by, added_at = row[10:]
    return LibraryMission(
        name=name,
        facts=MissionFacts(
            sha256=sha256,
            size=size,
            filename=filename,
            terrain=terrain,
            sortie=sortie,
            mission_start=start,
            required_modules=tuple(modules),
            client_slots=slots,
            desanitized_scripting=desanitized,
        ),
        uploaded_by=uploaded_by,
        added_at=datetime.fromisoformat(added_at),
    )
