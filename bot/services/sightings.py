"""When this process last saw each server running: how far a server found gone is billed.

The reconciler notes every running server it lists; the lifecycle and the reconciler both ask
here when a server turns out to be gone, whichever of them finds it first (a pass, or the
scheduled end of its session), so the squadron pays for the same minutes either way.
"""

from datetime import datetime

from bot.cloud.base import InstanceInfo
from bot.domain.session import SessionState


class Sightings:
    def __init__(self) -> None:
        self._running: dict[str, datetime] = {}

    def saw_running(self, instance_id: str, when: datetime) -> None:
        self._running[instance_id] = when

    def keep_only(self, instance_ids: set[str]) -> None:
        """Forget servers that are neither listed by the cloud nor recorded as up."""
        self._running = {i: seen for i, seen in self._running.items() if i in instance_ids}

    def last_known(
        self, session: SessionState, info: InstanceInfo, now: datetime
    ) -> datetime | None:
        """When the lost server was last known running: a server that never became ready is
        billed nothing (its launch time); a ready one up to when the provider says it stopped
        or the latest sighting (a restarted bot has none), but never past the booked end, as a
        server the backstop stopped late was over time through no fault of the squadron."""
        if session.ready_at is None:
            return session.launched_at
        assert session.instance_id is not None
        known = [session.ready_at]
        seen = self._running.get(session.instance_id)
        if seen is not None:
            known.append(seen)
        if info.stopped_at is not None:
            known.append(min(info.stopped_at, now))
        return min(max(known), session.end_at)
