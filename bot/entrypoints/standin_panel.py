"""The sandbox's stand-in servers page: pilots join and leave, the game's chat shows.

With the local provider, each running session's server is a stand-in process whose stand-in DCS
reports the pilots listed for it to the real agent (see `bot.cloud.standin_dcs`). This page, at
`PANEL_PATH` on rr's web app (loopback only, like the sandbox), lets a person put pilots on a
server or take them off, and shows what rr hears from its agent (the mission's state, the
pilots online) and what the game's chat showed, so the live status, in-game messages and an
idle stop can be watched in the browser. Its JSON API, relative to the page:

- ``GET api/servers``: each running stand-in server, with its session, what rr last heard, its
  pilots and its chat;
- ``POST api/servers/{instance_id}/pilots`` ``{name, side}``: a pilot joins (side 0 spectators,
  1 red, 2 blue);
- ``POST api/servers/{instance_id}/pilots/leave`` ``{name}``: that pilot leaves.

Bad input is refused with 400 and ``{"error": sentence}``; only JSON bodies are taken, so a form
on another site cannot post here.
"""

from collections.abc import Awaitable, Callable
from dataclasses import asdict
from typing import Any

from aiohttp import web

from bot.agentapi import AgentApi
from bot.cloud.local import LocalProvider, Pilot
from bot.domain.session import SERVER_UP_STATUSES, SessionState
from bot.view.handle import ViewHandle

PANEL_PATH = "/sandbox/servers/"
PANEL_TITLE = "rr · stand-in servers"
MAX_PILOTS = 32
MAX_NAME = 40
SIDES = {0: "Spectators", 1: "Red", 2: "Blue"}


class Refused(Exception):
    """A request the panel does not carry out; the message says why, in one sentence."""


class StandinPanel:
    def __init__(self, view: ViewHandle, agents: AgentApi, provider: LocalProvider) -> None:
        self._view = view
        self._agents = agents
        self._provider = provider

    def routes(self, app: web.Application) -> None:
        """Mount the page and its API (a route registrar for `create_web_app`)."""
        app.router.add_get(PANEL_PATH, _page)
        app.router.add_get(PANEL_PATH + "api/servers", self.servers)
        app.router.add_post(PANEL_PATH + "api/servers/{instance_id}/pilots", _refusing(self.join))
        app.router.add_post(
            PANEL_PATH + "api/servers/{instance_id}/pilots/leave", _refusing(self.leave)
        )

    async def servers(self, _: web.Request) -> web.Response:
        found = []
        for state in await self._running():
            assert state.instance_id is not None
            numbers = await self._view.session_numbers(state.guild_id)
            report = self._agents.heartbeats.latest(state.session_id)
            heard = None
            if report is not None and report.attempt == state.attempt:
                heard = {
                    "state": report.state,
                    "mission": report.mission,
                    "players": [player.model_dump() for player in report.players],
                }
            found.append(
                {
                    "instance_id": state.instance_id,
                    "session_id": state.session_id,
                    "name": f"Server #{numbers.get(state.session_id, '?')}",
                    "status": str(state.status),
                    "heard": heard,
                    "pilots": [
                        asdict(pilot) for pilot in await self._provider.players(state.instance_id)
                    ],
                    "chat": [asdict(line) for line in await self._provider.chat(state.instance_id)],
                }
            )
        return web.json_response({"servers": found})

    async def join(self, request: web.Request) -> web.Response:
        instance_id = await self._instance(request)
        body = await _json(request)
        name = body.get("name")
        side = body.get("side")
        if not isinstance(name, str) or not name.strip() or len(name.strip()) > MAX_NAME:
            raise Refused(f"A pilot's name has 1 to {MAX_NAME} characters.")
        if not isinstance(side, int) or isinstance(side, bool) or side not in SIDES:
            raise Refused("The side is 0 (spectators), 1 (red) or 2 (blue).")
        pilots = await self._provider.players(instance_id)
        if any(pilot.name == name.strip() for pilot in pilots):
            raise Refused(f"{name.strip()} is on this server already.")
        if len(pilots) >= MAX_PILOTS:
            raise Refused(f"A stand-in server takes at most {MAX_PILOTS} pilots here.")
        slot = "" if side == 0 else "F-16C_50" if side == 2 else "Su-27"
        await self._set(instance_id, [*pilots, Pilot(name.strip(), side, slot)])
        return web.json_response({"ok": True})

    async def leave(self, request: web.Request) -> web.Response:
        instance_id = await self._instance(request)
        name = (await _json(request)).get("name")
        pilots = await self._provider.players(instance_id)
        staying = [pilot for pilot in pilots if pilot.name != name]
        if len(staying) == len(pilots):
            raise Refused(f"No pilot named {name!r} is on this server.")
        await self._set(instance_id, staying)
        return web.json_response({"ok": True})

    async def _set(self, instance_id: str, pilots: list[Pilot]) -> None:
        if not await self._provider.set_players(instance_id, pilots):
            raise Refused("That server is not running any more.")

    async def _running(self) -> list[SessionState]:
        return [
            state
            for state in await self._view.active_sessions()
            if state.status in SERVER_UP_STATUSES
            and state.instance_id is not None
            and state.provider == self._provider.name
        ]

    async def _instance(self, request: web.Request) -> str:
        instance_id = request.match_info["instance_id"]
        if not any(state.instance_id == instance_id for state in await self._running()):
            raise Refused("No running stand-in server has that id; reload the page.")
        return instance_id


async def _json(request: web.Request) -> dict[str, Any]:
    if request.content_type != "application/json":
        raise Refused("Send the request as application/json.")
    try:
        body = await request.json()
    except ValueError:
        raise Refused("The request is not valid JSON.") from None
    if not isinstance(body, dict):
        raise Refused("The request is a JSON object.")
    return body


def _refusing(
    handler: Callable[[web.Request], Awaitable[web.Response]],
) -> Callable[[web.Request], Awaitable[web.Response]]:
    async def handle(request: web.Request) -> web.Response:
        try:
            return await handler(request)
        except Refused as refused:
            return web.json_response({"error": str(refused)}, status=400)

    return handle


async def _page(_: web.Request) -> web.Response:
    return web.Response(
        text=PAGE, content_type="text/html", charset="utf-8", headers={"Cache-Control": "no-cache"}
    )


PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>rr · stand-in servers</title>
<link rel="icon" href="data:,">
<style>
body { font: 15px/1.4 system-ui, sans-serif; background: #313338; color: #dbdee1; margin: 24px; }
h1 { font-size: 20px; } h2 { font-size: 17px; margin: 0 0 8px; }
.server { background: #2b2d31; border-radius: 8px; padding: 16px; margin-bottom: 16px; }
.heard { color: #b5bac1; margin-bottom: 8px; }
ul { padding-left: 18px; } li { margin: 2px 0; }
button, input, select { font: inherit; border-radius: 4px; border: 0; padding: 4px 8px; }
button { background: #5865f2; color: #fff; cursor: pointer; }
.chat { background: #1e1f22; border-radius: 4px; padding: 8px; font-family: monospace; }
.error { color: #f23f43; min-height: 1em; }
</style>
</head>
<body>
<h1>Stand-in servers</h1>
<p>Pilots you add here join the running stand-in server: its stand-in DCS reports them to
rr's agent, as the game would. The chat is what pilots see in game.</p>
<p id="error" class="error" role="alert"></p>
<div id="servers"><p id="none">No stand-in server is running.</p></div>
<script>
const sides = {0: "Spectators", 1: "Red", 2: "Blue"};
const errorLine = document.getElementById("error");
async function post(path, body) {
  const response = await fetch(path, {method: "POST", headers: {"Content-Type": "application/json"},
    body: JSON.stringify(body)});
  const answer = await response.json();
  errorLine.textContent = answer.error || "";
  await refresh();
}
function element(tag, text, attributes) {
  const made = document.createElement(tag);
  if (text !== undefined) made.textContent = text;
  Object.assign(made, attributes || {});
  return made;
}
function render(server) {
  const card = element("section", undefined, {className: "server"});
  card.dataset.instance = server.instance_id;
  card.append(element("h2", server.name + " \\u00b7 " + server.status));
  const heard = server.heard;
  card.append(element("div", heard
    ? `rr hears: ${heard.state}${heard.mission ? " \\u00b7 " + heard.mission : ""} \\u00b7 ` +
      `${heard.players.length} pilot(s) online`
    : "rr has not heard from this server's agent yet", {className: "heard"}));
  const pilots = element("ul", undefined, {className: "pilots"});
  for (const pilot of server.pilots) {
    const row = element("li", `${pilot.name} (${sides[pilot.side]}) `);
    const leave = element("button", "Remove", {type: "button"});
    leave.addEventListener("click", () =>
      post(`api/servers/${server.instance_id}/pilots/leave`, {name: pilot.name}));
    row.append(leave);
    pilots.append(row);
  }
  card.append(pilots);
  const form = element("form");
  const name = element("input", undefined, {name: "name", placeholder: "Pilot name"});
  name.setAttribute("aria-label", "Pilot name");
  const side = element("select", undefined, {name: "side"});
  side.setAttribute("aria-label", "Side");
  for (const [value, label] of [[2, "Blue"], [1, "Red"], [0, "Spectators"]]) {
    side.append(element("option", label, {value: String(value)}));
  }
  form.append(name, " ", side, " ", element("button", "Add pilot", {type: "submit"}));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    post(`api/servers/${server.instance_id}/pilots`, {name: name.value, side: Number(side.value)});
  });
  card.append(form);
  card.append(element("h2", "In-game chat", {style: "margin-top: 12px"}));
  const chat = element("div", undefined, {className: "chat"});
  for (const line of server.chat) chat.append(element("div", `${line.at}  ${line.text}`));
  if (!server.chat.length) chat.append(element("div", "(nothing said yet)"));
  card.append(chat);
  return card;
}
async function refresh() {
  const focused = document.activeElement;
  if (focused && focused.tagName === "INPUT" && focused.value) return;
  const answer = await (await fetch("api/servers")).json();
  const list = document.getElementById("servers");
  list.replaceChildren(...answer.servers.map(render));
  if (!answer.servers.length) list.append(element("p", "No stand-in server is running."));
}
refresh();
setInterval(refresh, 1000);
</script>
</body>
</html>
"""
