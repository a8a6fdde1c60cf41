"""The typed way for the rest of the bot to use the view, which lives inside its mailbox."""

from collections.abc import Collection, Iterable, Mapping
from datetime import datetime

from bot.domain.session import SessionState
from bot.domain.squadron import SquadronState
from bot.mailbox import Mailbox
from bot.view.boots import BootLead
from bot.view.model import Balance, View, ViewStats
from bot.view.schedule import DueAction
from eventstore import StoredEvent


class ViewHandle:
    """Each query is one ``ask`` of the view's mailbox; ``publish`` is a ``tell``."""

    def __init__(self, mailbox: Mailbox[View]) -> None:
        self.mailbox = mailbox

    def publish(self, events: Iterable[StoredEvent]) -> None:
        """Hand newly stored events to the view (it drops any it has already applied)."""
        batch = list(events)
        if batch:
            self.mailbox.tell(lambda view: view.apply_all(batch))

    async def boot_lead(self, size: str, region: str) -> BootLead:
        return await self.mailbox.ask(lambda view: view.boot_lead(size, region))

    async def session(self, session_id: str) -> SessionState | None:
        return await self.mailbox.ask(lambda view: view.session(session_id))

    async def sessions_for_guild(self, guild_id: str) -> list[SessionState]:
        return await self.mailbox.ask(lambda view: view.sessions_for_guild(guild_id))

    async def session_numbers(self, guild_id: str) -> dict[str, int]:
        return await self.mailbox.ask(lambda view: view.session_numbers(guild_id))

    async def active_sessions(self) -> list[SessionState]:
        return await self.mailbox.ask(lambda view: view.active_sessions())

    async def running_instances(self) -> list[SessionState]:
        return await self.mailbox.ask(lambda view: view.running_instances())

    async def squadron(self, guild_id: str) -> SquadronState | None:
        return await self.mailbox.ask(lambda view: view.squadron(guild_id))

    async def squadron_guilds(self) -> list[str]:
        return await self.mailbox.ask(lambda view: view.squadron_guilds())

    async def guilds_with_unsettled_paid_requests(self) -> list[str]:
        return await self.mailbox.ask(lambda view: view.guilds_with_unsettled_paid_requests())

    async def balance(self, guild_id: str) -> Balance:
        return await self.mailbox.ask(lambda view: view.balance(guild_id))

    async def reservations(self, guild_id: str) -> Mapping[str, int]:
        return await self.mailbox.ask(lambda view: view.reservations(guild_id))

    async def due_actions(self, now: datetime) -> list[DueAction]:
        return await self.mailbox.ask(lambda view: view.due_actions(now))

    async def next_due_at(self, excluding: Collection[str] = ()) -> datetime | None:
        return await self.mailbox.ask(lambda view: view.next_due_at(excluding))

    async def stats(self) -> ViewStats:
        return await self.mailbox.ask(lambda view: view.stats())
