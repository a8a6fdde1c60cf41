"""The DCS hook's source with this agent's ports, and its place under the write folder."""

import re
from importlib import resources

HOOK_PATH = "Scripts/Hooks/rr_hook.lua"
DEFAULT_AGENT_PORT = 10071
DEFAULT_HOOK_PORT = 10072
_PORT_LINE = re.compile(rb"^(local [A-Z_]+ = )\d+( -- rr:(\w+))$", re.MULTILINE)


def hook_source(agent_port: int = DEFAULT_AGENT_PORT, hook_port: int = DEFAULT_HOOK_PORT) -> bytes:
    ports = {b"agent_port": agent_port, b"hook_port": hook_port}
    template = resources.files("agent.hook").joinpath("rr_hook.lua").read_bytes()

    def port(match: re.Match[bytes]) -> bytes:
        return match.group(1) + str(ports[match.group(3)]).encode() + match.group(2)

    source, count = _PORT_LINE.subn(port, template)
    if count != len(ports):
        raise RuntimeError("rr_hook.lua has lost its port lines")
    return source
