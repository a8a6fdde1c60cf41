"""The few plain HTML pages buyers see in a browser: no scripts, no build step."""

from html import escape

from aiohttp import web

_STYLE = """
body { font-family: system-ui, sans-serif; background: #f4f5f7; color: #1d2330; margin: 0; }
main { max-width: 28rem; margin: 4rem auto; background: #fff; padding: 2rem;
       border-radius: 12px; box-shadow: 0 2px 12px rgba(0, 0, 0, .08); }
h1 { font-size: 1.4rem; margin-top: 0; }
.amount { font-size: 2rem; font-weight: 600; margin: 1rem 0; }
.note { color: #5b6270; font-size: .9rem; }
.banner { background: #fff4d6; color: #6b4e00; padding: .5rem .75rem; border-radius: 6px; }
.banner.loud { background: #c62828; color: #fff; font-size: 1.1rem; padding: 1rem; }
button { font-size: 1rem; padding: .75rem 1.5rem; border: 0; border-radius: 8px;
         background: #635bff; color: #fff; cursor: pointer; width: 100%; }
a.secondary { display: block; text-align: center; margin-top: 1rem; color: #5b6270; }
"""


def html_page(title: str, body: str, *, status: int = 200) -> web.Response:
    """A complete page; ``body`` is trusted HTML (escape anything that came from outside)."""
    document = (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)}</title><style>{_STYLE}</style></head>"
        f"<body><main>{body}</main></body></html>"
    )
    return web.Response(text=document, content_type="text/html", status=status)


def message_page(title: str, message: str, *, status: int = 200) -> web.Response:
    return html_page(title, f"<h1>{escape(title)}</h1><p>{escape(message)}</p>", status=status)


async def payment_succeeded(request: web.Request) -> web.Response:
    """Where Checkout sends the buyer after paying; the webhook, not this page, records it."""
    return message_page(
        "Payment received",
        "Thank you. The credit shows in Discord as soon as the payment is confirmed, usually "
        "within a minute, and you get a direct message when it lands. You can close this tab.",
    )


def already_paid_page() -> web.Response:
    """What a checkout link shows once it was paid, however long ago."""
    return message_page(
        "Already paid",
        "This checkout was paid; its credit is in Discord (a direct message said so when it "
        "landed). Nothing more is charged here. Use /credits buy in Discord to buy more.",
    )


async def payment_cancelled(request: web.Request) -> web.Response:
    return message_page(
        "Checkout cancelled",
        "Nothing was charged. Use /credits buy in Discord whenever you want to try again.",
    )
