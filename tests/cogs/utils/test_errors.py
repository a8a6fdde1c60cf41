"""Domain refusals worded for members, with commands that exist."""

from bot.domain.errors import Conflict, InsufficientCredit, NotFound
from cogs.utils.errors import refusal_text


def test_a_missing_session_points_at_the_server_list() -> None:
    assert refusal_text(NotFound("session", "m1")) == (
        "There is no session with that id; check it with /server list."
    )
    assert refusal_text(NotFound("session")) == refusal_text(NotFound("session", "m1"))


def test_a_session_booked_twice_points_at_its_status() -> None:
    assert refusal_text(Conflict("That session is already booked.", reason="session_exists")) == (
        "That session is already booked; check it with /server status."
    )


def test_other_refusals_say_what_is_wrong_themselves() -> None:
    assert refusal_text(Conflict("This session is already stopping.")) == (
        "This session is already stopping."
    )
    assert refusal_text(NotFound("purchase", "p1")) == (
        "There is no such purchase for this squadron; check the purchase id."
    )
    short = InsufficientCredit(500, 1_000, 500)
    assert refusal_text(short) == str(short)
    assert "/credits buy" in refusal_text(short)
