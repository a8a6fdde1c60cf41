"""Every file a DCS server needs from rr, rendered from the squadron's settings and the run."""

from __future__ import annotations

from bot.dcs import autoexec, lotatc, options, server_settings, srs
from bot.dcs.session import SessionOptions
from bot.domain.settings import SquadronSettings


def render_server_files(settings: SquadronSettings, session: SessionOptions) -> dict[str, bytes]:
    """{path relative to the DCS write folder, with `/` separators: UTF-8 bytes without BOM}.

    A pure function: the same settings and session give the same bytes. LotAtc's and SRS's files
    are present only when that add-on is enabled.
    """
    files = {
        server_settings.PATH: server_settings.render(settings, session),
        options.PATH: options.render(settings, session),
        autoexec.PATH: autoexec.render(session),
    }
    if settings.lotatc.enabled:
        files[lotatc.PATH] = lotatc.render(settings, session)
    if settings.srs.enabled:
        files[srs.PATH] = srs.render(settings, session)
    return files
