"""Who may use which slash command where, as a Discord client decides before sending anything.

A member needs View Channel and Use Application Commands in the channel; a command with
``default_member_permissions`` is hidden from members lacking those permissions (``"0"``: from
everyone but administrators); guild-scoped commands come before global ones of the same name;
a global command is usable in the bot's DM unless its contexts or ``dm_permission`` say no.
"""

from discord_emulator.commands import CommandRegistry, RegisteredCommand
from discord_emulator.errors import InvalidInvocation
from discord_emulator.models import Guild, TextChannel, User
from discord_emulator.permissions import Permission


def check_can_use(channel: TextChannel, user: User) -> None:
    """Refuse unless ``user`` can use application commands in ``channel``."""
    guild = channel.guild
    if channel.deleted:
        raise InvalidInvocation(f"#{channel.name} was deleted.")
    if user.id not in guild.members:
        raise InvalidInvocation(f"{user.name} is not a member of {guild.name}.")
    needed = Permission.VIEW_CHANNEL | Permission.USE_APPLICATION_COMMANDS
    if guild.permissions_for(user, channel) & needed != needed:
        raise InvalidInvocation(f"{user.name} cannot use application commands in #{channel.name}.")


def locate_command(
    registry: CommandRegistry,
    guild: Guild | None,
    user: User,
    command: str,
    channel: TextChannel | None,
) -> tuple[RegisteredCommand, list[str], TextChannel | None]:
    """The registered command for ``command`` ("server start"), its subcommand path, and where
    it runs (a channel of ``guild``, or None for the bot's DM)."""
    name, *path = command.split()
    where: TextChannel | None = None
    if guild is not None:
        where = channel or next(iter(guild.text_channels), None)
        if where is None or where.guild is not guild:
            raise InvalidInvocation(f"Choose a text channel of {guild.name} to run /{command} in.")
        check_can_use(where, user)
    registered = registry.find(guild.id if guild else None, name)
    if registered is None:
        place = guild.name if guild else "the bot's DMs"
        raise InvalidInvocation(f"The bot has no slash command /{name} usable in {place}.")
    required = registered.payload.get("default_member_permissions")
    if guild is not None and required is not None:
        granted = guild.permissions_for(user)
        needed = int(required)
        admin = bool(granted & Permission.ADMINISTRATOR)
        if not admin and (needed == 0 or granted & needed != needed):
            raise InvalidInvocation(
                f"{user.name} cannot see /{name}: it is limited to members with permissions "
                f"{needed} (default_member_permissions)."
            )
    return registered, path, where
