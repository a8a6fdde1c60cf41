"""Instructions waiting for a session's server, in memory, handed out until acknowledged.

Every heartbeat reply carries a session's pending instructions; the agent passes them to the
hook and reports the ids the hook carried out, and only then are they dropped. The same id may
thus reach the agent more than once: the agent and the hook each ignore one they already did.
"""

import secrets
from collections.abc import Iterable, Sequence

from bot.agentapi.schemas import Instruction, UploadTarget

MAX_PENDING = 32
"""Per session; posting more drops the oldest (a server that does not answer cannot hoard)."""
MAX_CHAT_LENGTH = 500


class InstructionQueue:
    def __init__(self) -> None:
        self._pending: dict[str, dict[str, Instruction]] = {}

    def post_chat(self, session_id: str, text: str) -> Instruction:
        """A message to post in the game's chat, to everyone."""
        if not text or len(text) > MAX_CHAT_LENGTH:
            raise ValueError(f"A chat message has 1 to {MAX_CHAT_LENGTH} characters.")
        return self._post(session_id, Instruction(id=_new_id(), kind="chat", text=text))

    def post_end_mission(self, session_id: str) -> Instruction:
        """Stop the running mission (players are dropped; DCS keeps running)."""
        return self._post(session_id, Instruction(id=_new_id(), kind="end_mission"))

    def post_uploads(self, session_id: str, uploads: Sequence[UploadTarget]) -> Instruction:
        """Upload the files ``uploads`` name through their forms (the agent does it itself and
        acknowledges once it has tried them all)."""
        instruction = Instruction(id=_new_id(), kind="upload", uploads=list(uploads))
        return self._post(session_id, instruction)

    def pending(self, session_id: str) -> list[Instruction]:
        return list(self._pending.get(session_id, {}).values())

    def acknowledge(self, session_id: str, ids: Iterable[str]) -> None:
        pending = self._pending.get(session_id)
        if pending is None:
            return
        for instruction_id in ids:
            pending.pop(instruction_id, None)
        if not pending:
            del self._pending[session_id]

    def forget(self, session_id: str) -> None:
        self._pending.pop(session_id, None)

    def _post(self, session_id: str, instruction: Instruction) -> Instruction:
        pending = self._pending.setdefault(session_id, {})
        pending[instruction.id] = instruction
        while len(pending) > MAX_PENDING:
            del pending[next(iter(pending))]
        return instruction


def _new_id() -> str:
    return secrets.token_urlsafe(12)
