"""``python -m bot``: the same as ``rr-bot``."""

import sys

from bot.entrypoints.main import main

sys.exit(main())
