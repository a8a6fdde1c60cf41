"""``python -m agent``: the agent's command line.

rr's address and the write folder come as arguments or environment variables; the credential
only from the environment (``RR_AGENT_CREDENTIAL``) or a file, never as an argument, where any
process on the machine could read it.
"""

import argparse
import asyncio
import logging
import os
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

from agent.clock import MonotonicClock
from agent.hookfile import DEFAULT_AGENT_PORT, DEFAULT_HOOK_PORT
from agent.hooklink import HookLink
from agent.programs import Programs
from agent.rr import RrClient
from agent.runner import Agent

log = logging.getLogger("rr.agent")

EXIT_ENDED = 0
EXIT_USAGE = 2


def parse(argv: Sequence[str], env: Mapping[str, str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m agent", description=__doc__, allow_abbrev=False
    )
    parser.add_argument("--rr-url", default=env.get("RR_AGENT_URL"), help="rr's web address")
    parser.add_argument("--root", default=env.get("RR_AGENT_ROOT"), help="the DCS write folder")
    parser.add_argument(
        "--credential-file",
        default=env.get("RR_AGENT_CREDENTIAL_FILE"),
        help="a file holding the credential (else RR_AGENT_CREDENTIAL)",
    )
    parser.add_argument("--dcs-exe", default=env.get("RR_AGENT_DCS_EXE"))
    parser.add_argument("--srs-exe", default=env.get("RR_AGENT_SRS_EXE"))
    parser.add_argument("--agent-port", type=int, default=DEFAULT_AGENT_PORT)
    parser.add_argument("--hook-port", type=int, default=DEFAULT_HOOK_PORT)
    arguments = parser.parse_args(argv)
    if not arguments.rr_url or not arguments.root:
        parser.error("rr's address (--rr-url) and the write folder (--root) are required")
    return arguments


def credential_from(arguments: argparse.Namespace, env: Mapping[str, str]) -> str:
    if arguments.credential_file:
        return Path(arguments.credential_file).read_text(encoding="utf-8").strip()
    return env.get("RR_AGENT_CREDENTIAL", "").strip()


def session_of(credential: str) -> str | None:
    """The session id a credential (``rr1.<session id>.<secret>``) names."""
    parts = credential.split(".")
    return parts[1] if len(parts) == 3 and parts[0] == "rr1" and parts[1] else None


async def run(arguments: argparse.Namespace, credential: str, session_id: str) -> str:
    clock = MonotonicClock()
    link = HookLink(clock, arguments.hook_port)
    agent_port = await link.open(arguments.agent_port)
    try:
        agent = Agent(
            client=RrClient(arguments.rr_url, session_id, credential),
            link=link,
            clock=clock,
            root=Path(arguments.root),
            programs=Programs(dcs_exe=arguments.dcs_exe, srs_exe=arguments.srs_exe),
            agent_port=agent_port,
        )
        return await agent.run()
    finally:
        link.close()


def main(argv: Sequence[str] | None = None, env: Mapping[str, str] | None = None) -> int:
    environment = os.environ if env is None else env
    arguments = parse(sys.argv[1:] if argv is None else argv, environment)
    try:
        credential = credential_from(arguments, environment)
    except OSError as error:
        print(f"python -m agent: cannot read the credential file: {error}", file=sys.stderr)
        return EXIT_USAGE
    if env is None:  # the programs it starts (DCS, SRS) have no use for the credential
        os.environ.pop("RR_AGENT_CREDENTIAL", None)
    session_id = session_of(credential)
    if session_id is None:
        print("python -m agent: no valid credential in RR_AGENT_CREDENTIAL", file=sys.stderr)
        return EXIT_USAGE
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    log.info("agent for session %s reporting to %s", session_id, arguments.rr_url)
    asyncio.run(run(arguments, credential, session_id))
    return EXIT_ENDED
