from __future__ import annotations

import pytest

from tests.bot.dcs.lua_sandbox import LuaSandbox


@pytest.fixture(scope="session")
def lua() -> LuaSandbox:
    return LuaSandbox()
