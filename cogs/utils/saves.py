"""``/mission saves``: a mission's campaign saves, and the menu a manager rolls back with."""

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

import discord

from bot.services.saves import CampaignSaveKept, MissionSaves
from cogs.utils.views import OwnedView

Choose = Callable[[discord.Interaction, str], Awaitable[None]]
"""Make the save at the key the one the next session loads (raises a refusal)."""


def _when(save: CampaignSaveKept) -> datetime:
    return datetime.fromisoformat(save.saved_at)


def _label(save: CampaignSaveKept) -> str:
    return f"Saved {_when(save):%d %b %Y %H:%M} UTC · {save.size / 1000:,.0f} KB"


def saves_embed(mission: str, saves: MissionSaves) -> discord.Embed:
    """The saves, newest first, and which one the next session of ``mission`` loads."""
    embed = discord.Embed(title=f"Campaign saves · {mission}"[:256])
    if not saves.saves:
        embed.description = (
            "No save yet: the squadron's campaign_save_folder setting names the folder kept "
            "after each session of this mission."
        )
        return embed
    current = saves.current
    lines = []
    for save in saves.saves:
        mark = " ← the next session loads this one" if save == current else ""
        lines.append(f"{discord.utils.format_dt(_when(save), 'f')} · {save.size:,} bytes{mark}")
    embed.description = "\n".join(lines)
    return embed


class RollbackView(OwnedView):
    """A menu of the mission's saves; choosing one rolls the campaign back to it."""

    def __init__(self, owner_id: int, mission: str, saves: MissionSaves, choose: Choose) -> None:
        super().__init__(owner_id)
        self.mission = mission
        self.saves = saves.saves
        self._choose = choose
        menu: discord.ui.Select[Any] = discord.ui.Select(
            custom_id="rollback",
            placeholder="Load an earlier save at the next session",
            options=[
                discord.SelectOption(label=_label(save), value=str(index))
                for index, save in enumerate(self.saves)
            ],
        )
        menu.callback = self._chosen  # type: ignore[method-assign]
        self.menu = menu
        self.add_item(menu)

    async def _chosen(self, interaction: discord.Interaction) -> None:
        save = self.saves[int(self.menu.values[0])]
        await self._choose(interaction, save.key)
        self.stop()
        await interaction.response.edit_message(
            content=(
                f"The next session of **{discord.utils.escape_markdown(self.mission)}** loads "
                f"the save of {discord.utils.format_dt(_when(save), 'f')}."
            ),
            embed=None,
            view=None,
        )
