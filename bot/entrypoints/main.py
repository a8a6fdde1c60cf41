"""``rr-bot`` / ``python -m bot``: read the settings, set up logging, run until Ctrl-C.

``rr-bot check`` checks the deployment item by item instead (bot/preflight) and exits 0 when
every item passed, 1 otherwise.
"""

import asyncio
import logging
import os
import sys

from bot.config import InvalidSettings, export_aws_environment, load_settings
from bot.entrypoints.app import EXIT_INTERRUPTED, FatalError, serve
from bot.logs import configure_logging
from bot.preflight import preflight, report

AWS_SECRET_VARIABLES = ("AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN")
EXIT_INVALID_SETTINGS = 2
EXIT_FAILED = 1
USAGE = "usage: rr-bot [check]"


def main(argv: list[str] | None = None) -> int:
    arguments = sys.argv[1:] if argv is None else argv
    if arguments not in ([], ["check"]):
        print(USAGE, file=sys.stderr)
        return EXIT_INVALID_SETTINGS
    try:
        settings = load_settings()
    except InvalidSettings as error:
        print(f"rr: {error}", file=sys.stderr)
        return EXIT_INVALID_SETTINGS
    export_aws_environment()
    aws_secrets = [os.environ.get(name, "") for name in AWS_SECRET_VARIABLES]
    configure_logging(settings.log_level, [*settings.secret_values(), *aws_secrets])
    if arguments == ["check"]:
        text, status = report(asyncio.run(preflight(settings)))
        print(text)
        return status
    try:
        asyncio.run(serve(settings))
    except FatalError as error:
        logging.getLogger("rr.app").error("rr cannot run: %s", error)
        return EXIT_FAILED
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    return 0


if __name__ == "__main__":
    sys.exit(main())
