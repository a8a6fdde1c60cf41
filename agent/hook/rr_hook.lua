-- rr_hook.lua: reports the game to rr's agent and carries out its instructions.
--
-- Installed by the agent under Saved Games/<write folder>/Scripts/Hooks. It talks to the agent
-- over UDP on loopback, as DCSServerBot's hook does: a non-blocking datagram socket never makes
-- a frame wait, a datagram is one whole JSON message (nothing to reassemble in Lua), and when
-- the agent is not there a report is simply dropped. Each report is a whole snapshot, so a
-- lost one costs nothing but a few seconds; instructions are carried out once each (by id) and
-- listed as done in the following reports, so the agent can stop resending them.
--
-- Player id 1 is the server itself and is never reported.

local AGENT_PORT = 10071 -- rr:agent_port
local HOOK_PORT = 10072 -- rr:hook_port
local HOST = "127.0.0.1"
local REPORT_EVERY = 5 -- seconds of real time between reports when nothing changes
local MAX_NAME_BYTES = 64
local MAX_MISSION_BYTES = 200
local MAX_PLAYERS = 256
local MAX_DATAGRAM = 60000 -- bytes; UDP carries at most 65,507
local MAX_DONE = 32
local MAX_COMMANDS_PER_FRAME = 10
local MAX_LOGGED_ERRORS = 20

package.path = package.path .. ";.\\LuaSocket\\?.lua;"
package.cpath = package.cpath .. ";.\\LuaSocket\\?.dll;"
local socket = require("socket")

local rr = {
    state = "loading",
    mission = "",
    gone = {},
    done = {},
    last_report = nil,
    errors = 0,
}

local udp = socket.udp()
udp:settimeout(0)
local bound, bind_error = udp:setsockname(HOST, HOOK_PORT)
if not bound then
    log.write("rr", log.ERROR, "cannot listen on port " .. HOOK_PORT .. ": " .. tostring(bind_error))
end

-- At most `limit` bytes of `value` as text, never splitting a UTF-8 character.
local function clip(value, limit)
    local text = tostring(value or "")
    if #text <= limit then
        return text
    end
    local cut = limit
    while cut > 0 do
        local byte = string.byte(text, cut + 1)
        if byte < 0x80 or byte >= 0xC0 then
            break
        end
        cut = cut - 1
    end
    return string.sub(text, 1, cut)
end

local function players()
    local list = {}
    for _, id in ipairs(net.get_player_list() or {}) do
        if id ~= 1 and not rr.gone[id] and #list < MAX_PLAYERS then
            local info = net.get_player_info(id)
            if type(info) == "table" then
                list[#list + 1] = {
                    id = id,
                    name = clip(info.name, MAX_NAME_BYTES),
                    side = tonumber(info.side) or 0,
                    slot = clip(info.slot, MAX_NAME_BYTES),
                }
            end
        end
    end
    return list
end

-- Names full of characters JSON escapes could make a report too big for one datagram: then
-- the last players are left out (halving until it fits) rather than the whole report lost.
local function report()
    rr.last_report = DCS.getRealTime()
    local message = {
        type = "state",
        state = rr.state,
        mission = rr.mission,
        players = players(),
        done = rr.done,
    }
    local text = net.lua2json(message)
    while #text > MAX_DATAGRAM and #message.players > 0 do
        local kept = {}
        for index = 1, math.floor(#message.players / 2) do
            kept[index] = message.players[index]
        end
        message.players = kept
        text = net.lua2json(message)
    end
    udp:sendto(text, HOST, AGENT_PORT)
end

local function was_done(id)
    for _, done in ipairs(rr.done) do
        if done == id then
            return true
        end
    end
    return false
end

local function carry_out(command)
    if type(command) ~= "table" or type(command.id) ~= "string" or was_done(command.id) then
        return
    end
    if command.kind == "chat" and type(command.text) == "string" then
        net.send_chat(command.text, true)
    elseif command.kind == "end_mission" then
        -- rr asks again after a restart (with a new id): a mission already ended stays so.
        if rr.state ~= "stopped" then
            DCS.stopMission()
        end
    else
        return
    end
    rr.done[#rr.done + 1] = command.id
    if #rr.done > MAX_DONE then
        table.remove(rr.done, 1)
    end
    report()
end

local function poll()
    for _ = 1, MAX_COMMANDS_PER_FRAME do
        local data = udp:receive()
        if not data then
            return
        end
        local decoded, command = pcall(net.json2lua, data)
        if decoded then
            carry_out(command)
        end
    end
end

local function mission_name()
    return clip(DCS.getMissionName(), MAX_MISSION_BYTES)
end

local handlers = {}

function handlers.onMissionLoadBegin()
    rr.state = "loading"
    report()
end

function handlers.onMissionLoadEnd()
    rr.mission = mission_name()
    report()
end

function handlers.onSimulationStart()
    rr.state = "running"
    rr.mission = mission_name()
    report()
end

function handlers.onSimulationStop()
    rr.state = "stopped"
    rr.gone = {}
    report()
end

function handlers.onPlayerConnect(id)
    rr.gone[id] = nil
    report()
end

-- DCS may still list the player while this callback runs.
function handlers.onPlayerDisconnect(id)
    rr.gone[id] = true
    report()
end

function handlers.onPlayerChangeSlot(_)
    report()
end

function handlers.onSimulationFrame()
    poll()
    local now = DCS.getRealTime()
    if rr.last_report == nil or now - rr.last_report >= REPORT_EVERY then
        rr.gone = {}
        report()
    end
end

-- A failing callback logs (a few times) and never raises into DCS.
local callbacks = {}
for name, handler in pairs(handlers) do
    callbacks[name] = function(...)
        local ok, failure = pcall(handler, ...)
        if not ok and rr.errors < MAX_LOGGED_ERRORS then
            rr.errors = rr.errors + 1
            log.write("rr", log.ERROR, name .. " failed: " .. tostring(failure))
        end
    end
end

DCS.setUserCallbacks(callbacks)
log.write("rr", log.INFO, "rr hook loaded; reporting to port " .. AGENT_PORT)
