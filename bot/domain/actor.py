"""Who acts, and through what: the identity every command carries and every event records."""

from dataclasses import dataclass

SYSTEM_USER_ID = "system"


@dataclass(frozen=True, slots=True)
class Actor:
    """A Discord member, an operator, or the bot itself.

    `source` says how the command arrived ("discord", "stripe", "scheduler", "reconciler",
    "admin"...) and `source_id` names the triggering thing (interaction id, webhook event id).
    `is_manager` means the member may manage their guild's servers; `is_operator` means one of
    rr's owners, who may act in any guild.
    """

    user_id: str
    guild_id: str | None
    is_manager: bool = False
    is_operator: bool = False
    source: str = "discord"
    source_id: str | None = None

    @classmethod
    def system(cls, source: str, source_id: str | None = None) -> "Actor":
        """The bot itself (scheduler, reconciler, payment webhooks): an operator in no guild."""
        return cls(
            user_id=SYSTEM_USER_ID,
            guild_id=None,
            is_operator=True,
            source=source,
            source_id=source_id,
        )

    def metadata(self) -> dict[str, str | None]:
        """Event metadata saying who acted and how; ``causation_id`` is None here and is set
        by ``bot.services.streams.caused_by`` on events another event led to."""
        return {
            "guild_id": self.guild_id,
            "user_id": self.user_id,
            "source": self.source,
            "source_id": self.source_id,
            "causation_id": None,
        }
