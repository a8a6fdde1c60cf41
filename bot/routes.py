"""What a part of rr adds to the web app: ``register(app)``, called once before it starts.

Payments, the agent API and the object store each give one; the entry point's web app
(`bot.entrypoints.web.create_web_app`) calls them, so the parts never import the web app.
"""

from collections.abc import Callable

from aiohttp import web

RouteRegistrar = Callable[[web.Application], None]
