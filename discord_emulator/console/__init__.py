"""A web console for the emulator: act as any member and watch the bot answer, live.

``console_app(emulator)`` is an aiohttp application (mount it with ``add_subapp`` under any
prefix, or run it on its own) serving a Discord-like page: pick a guild and a member, browse the
guild's text channels and the member's DMs with the bot, run any slash command the bot registered
through a form built from its registered options (choices, ranges, autocomplete answered by the
bot as you type), click buttons and selects, fill in modals, and see replies, embeds, edits and
DMs appear as they happen. Ephemeral replies are shown only to the member who used the command.

The page is plain HTML, one JavaScript file and one stylesheet (no build step). Its JSON API,
relative to the mount point:

- ``GET api/world``: guilds (channels, roles, members) and users.
- ``GET api/channels/{id}/messages?user=ID`` and ``GET api/dms/{user_id}/messages``: what that
  member sees there, oldest first.
- ``GET api/commands?user=ID&guild=ID``: the member's slash commands, one form per leaf
  (``server start``), with the options as registered (omit ``guild`` for the bot's DMs).
- ``GET api/events?user=ID``: the live feed (server-sent events; see `feed`).
- ``POST api/invoke`` ``{user, guild, channel, command, options}``, ``POST api/autocomplete``
  (the same plus ``focused``), ``POST api/click`` ``{user, message, custom_id, values?}`` and
  ``POST api/modal`` ``{user, interaction, values}``: act as the member. Each waits up to 3.5 s
  for the bot's first answer and says whether it came (``answered``), and with which modal.

Mistakes a Discord client would not let through are refused with 400 and ``{"error": sentence}``.
The console knows nothing of any particular bot.
"""

from discord_emulator.console.app import console_app

__all__ = ["console_app"]
