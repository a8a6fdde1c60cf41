"""Config/SRS.cfg: SRS's server.cfg (INI), kept in the DCS write folder.

The name follows DCSServerBot's convention; the launcher starts SRS with
`SRS-Server-Commandline.exe -cfg=<write folder>\\Config\\SRS.cfg`. SRS listens on all
interfaces without UPnP; when LotAtc runs too, SRS feeds LotAtc's transponder link on loopback.
"""

from __future__ import annotations

from bot.dcs.ini import IniValue, render_ini
from bot.dcs.session import SessionOptions
from bot.domain.settings import SRS_LOTATC_EXPORT_PORT, SquadronSettings

PATH = "Config/SRS.cfg"


def render(settings: SquadronSettings, session: SessionOptions) -> bytes:
    srs = settings.srs
    general: dict[str, IniValue] = {
        "EXTERNAL_AWACS_MODE": srs.eam_enabled,
        "COALITION_AUDIO_SECURITY": srs.coalition_audio_security,
        "SPECTATORS_AUDIO_DISABLED": srs.spectators_audio_disabled,
        "LOS_ENABLED": srs.los_enabled,
        "DISTANCE_ENABLED": srs.distance_enabled,
        "IRL_RADIO_TX": srs.irl_radio_tx,
        "IRL_RADIO_RX_INTERFERENCE": srs.irl_radio_rx_interference,
        "RADIO_EXPANSION": srs.radio_expansion,
        "ALLOW_RADIO_ENCRYPTION": srs.allow_radio_encryption,
        "SHOW_TRANSMITTER_NAME": srs.show_transmitter_name,
        "LOTATC_EXPORT_ENABLED": settings.lotatc.enabled,
        "LOTATC_EXPORT_IP": "127.0.0.1",
        "LOTATC_EXPORT_PORT": SRS_LOTATC_EXPORT_PORT,
    }
    server: dict[str, IniValue] = {
        "SERVER_IP": "0.0.0.0",
        "SERVER_PORT": srs.port,
        "UPNP_ENABLED": False,
        "CHECK_FOR_BETA_UPDATES": False,
    }
    awacs: dict[str, IniValue] = {
        "EXTERNAL_AWACS_MODE_BLUE_PASSWORD": srs.blue_password,
        "EXTERNAL_AWACS_MODE_RED_PASSWORD": srs.red_password,
    }
    sections = {
        "General Settings": general,
        "Server Settings": server,
        "External AWACS Mode Settings": awacs,
    }
    return render_ini(sections, session.file_note()).encode("utf-8")
