"""The agent's end of the loopback UDP exchange with the DCS hook.

The hook sends a whole snapshot (state, mission, players, the instruction ids it carried out)
as one JSON datagram whenever something changes and every few seconds; the agent keeps the
latest. The agent sends each instruction as one JSON datagram to the hook's port and sends it
again until a snapshot lists it as done. A lost datagram thus costs one period, nothing more.
"""

import asyncio
import json
import logging
from dataclasses import dataclass, field
from typing import Any

from agent.clock import AgentClock

log = logging.getLogger("rr.agent.hook")

HOST = "127.0.0.1"
MAX_PLAYERS = 256
MAX_NAME = 200
MAX_SLOT = 64
MAX_DONE = 64
STATES = frozenset({"loading", "running", "stopped"})


@dataclass(frozen=True)
class HookReport:
    state: str
    mission: str
    players: list[dict[str, Any]]
    done: frozenset[str]
    received_at: float


@dataclass
class HookLink(asyncio.DatagramProtocol):
    """Listens on ``HOST:agent_port``; sends to ``HOST:hook_port``."""

    clock: AgentClock
    hook_port: int
    latest: HookReport | None = None
    _transport: asyncio.DatagramTransport | None = field(default=None, repr=False)

    async def open(self, agent_port: int) -> int:
        """Start listening; returns the port (useful when ``agent_port`` is 0)."""
        loop = asyncio.get_running_loop()
        transport, _ = await loop.create_datagram_endpoint(
            lambda: self, local_addr=(HOST, agent_port)
        )
        self._transport = transport
        return int(transport.get_extra_info("sockname")[1])

    def close(self) -> None:
        if self._transport is not None:
            self._transport.close()

    def send(self, message: dict[str, Any]) -> None:
        if self._transport is not None:
            data = json.dumps(message, ensure_ascii=False).encode("utf-8")
            self._transport.sendto(data, (HOST, self.hook_port))

    def datagram_received(self, data: bytes, addr: tuple[str | Any, int]) -> None:
        report = parse_report(data, self.clock.now())
        if report is not None:
            self.latest = report


def parse_report(data: bytes, received_at: float) -> HookReport | None:
    """The snapshot in a datagram, cleaned to what rr accepts; None if it is not one."""
    try:
        message = json.loads(data.decode("utf-8", errors="replace"))
    except ValueError:
        return None
    if not isinstance(message, dict) or message.get("type") != "state":
        return None
    state = message.get("state")
    if state not in STATES:
        return None
    return HookReport(
        state=str(state),
        mission=_text(message.get("mission"), MAX_NAME),
        players=[player for player in map(_player, _items(message.get("players"))) if player][
            :MAX_PLAYERS
        ],
        done=frozenset(
            item for item in _items(message.get("done"))[:MAX_DONE] if isinstance(item, str)
        ),
        received_at=received_at,
    )


def _items(value: Any) -> list[Any]:
    """A JSON array's items; an empty Lua table may arrive as ``{}``, and DCS may key arrays."""
    if isinstance(value, list):
        return value
    if isinstance(value, dict):
        return list(value.values())
    return []


def _player(value: Any) -> dict[str, Any] | None:
    if not isinstance(value, dict):
        return None
    player_id, side = value.get("id"), value.get("side")
    if not isinstance(player_id, int | float) or int(player_id) < 2 or player_id > 2**31:
        return None
    return {
        "id": int(player_id),
        "name": _text(value.get("name"), MAX_NAME),
        "side": int(side) if isinstance(side, int | float) and side in (0, 1, 2) else 0,
        "slot": _text(value.get("slot"), MAX_SLOT),
    }


def _text(value: Any, limit: int) -> str:
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value)[:limit] if isinstance(value, str | int) else ""
