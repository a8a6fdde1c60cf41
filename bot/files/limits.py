"""How much squadrons' files may weigh and how long their links live, from RR_FILES_*."""

from dataclasses import dataclass
from datetime import timedelta

from bot.config import FilesSettings
from bot.domain.mission_quota import BYTES_PER_MB, MissionQuota

SERVER_LINK_LIFETIME = timedelta(minutes=15)
"""How long a server's links live: the mission it fetches at boot, the debrief it sends at the
end. Each is made just before it is used, so a leaked one is soon worthless."""


@dataclass(frozen=True)
class FileLimits:
    mission: MissionQuota
    debrief_max_bytes: int
    """The most one debrief file (a Tacview, a track, a log, a save) may hold."""
    debrief_link_lifetime: timedelta
    """How long members' download links to a debrief live; the S3 lifecycle rule on
    ``debriefs/`` should expire the files after as many days."""
    server_link_lifetime: timedelta = SERVER_LINK_LIFETIME

    @classmethod
    def from_settings(cls, files: FilesSettings) -> "FileLimits":
        return cls(
            mission=MissionQuota.from_settings(
                files.mission_quota_count, files.mission_quota_mb, files.mission_max_mb
            ),
            debrief_max_bytes=files.debrief_max_mb * BYTES_PER_MB,
            debrief_link_lifetime=timedelta(days=files.debrief_days),
        )
