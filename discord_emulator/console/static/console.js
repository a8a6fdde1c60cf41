// The emulator console: one page, no build step. It reads the console's JSON API (relative URLs,
// so it works under any mount point) and follows the live feed (server-sent events).
"use strict";

(() => {
  const OPTION = {
    STRING: 3, INTEGER: 4, BOOLEAN: 5, USER: 6, CHANNEL: 7, ROLE: 8, MENTIONABLE: 9,
    NUMBER: 10, ATTACHMENT: 11,
  };
  const COMPONENT = {
    ROW: 1, BUTTON: 2, STRING_SELECT: 3, TEXT_INPUT: 4, USER_SELECT: 5, ROLE_SELECT: 6,
    MENTIONABLE_SELECT: 7, CHANNEL_SELECT: 8, LABEL: 18,
  };
  const LINK_STYLE = 5;
  const AUTOCOMPLETE_DELAY_MS = 150;
  const DM = "dm";

  const state = {
    world: null,
    guildId: null,
    userId: null,
    place: null, // a text channel id, or DM for the member's DMs with the bot
    commands: [],
    shownCommand: null, // the command whose form is shown, as JSON: redrawn only when it changes
    unread: new Map(),
    clock: { server: Date.now(), at: performance.now(), scale: 1 },
    feed: null,
  };

  const $ = (id) => document.getElementById(id);

  // ---- small helpers --------------------------------------------------------------------

  function el(tag, attributes = {}, ...children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attributes)) {
      if (value !== undefined && value !== null && value !== false) node.setAttribute(name, value);
    }
    node.append(...children);
    return node;
  }

  async function api(path, body) {
    const init = body === undefined ? {} : {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(body),
    };
    const response = await fetch(path, init);
    let data = {};
    try {
      data = await response.json();
    } catch {
      data = {};
    }
    if (data.now) syncClock(data.now);
    if (!response.ok) throw new Error(data.error || `The console answered ${response.status}.`);
    return data;
  }

  function syncClock(now) {
    state.clock.server = Date.parse(now);
    state.clock.at = performance.now();
  }

  /** Milliseconds since the epoch on the bot's clock (which may run faster than real time). */
  function botNow() {
    return state.clock.server + (performance.now() - state.clock.at) * state.clock.scale;
  }

  function compareIds(a, b) {
    return a.length - b.length || (a < b ? -1 : a > b ? 1 : 0);
  }

  function guild() {
    return state.world.guilds.find((g) => g.id === state.guildId) || null;
  }

  function userName(id) {
    const user = state.world.users.find((u) => u.id === id);
    return user ? user.name : "unknown user";
  }

  function findRole(id) {
    for (const g of state.world.guilds) {
      const role = g.roles.find((r) => r.id === id);
      if (role) return role;
    }
    return null;
  }

  function findChannel(id) {
    for (const g of state.world.guilds) {
      const channel = g.channels.find((c) => c.id === id);
      if (channel) return { guild: g, channel };
    }
    return null;
  }

  function humans(g) {
    return g.members.filter((m) => !m.bot);
  }

  // ---- time -----------------------------------------------------------------------------

  const RELATIVE = new Intl.RelativeTimeFormat(undefined, { numeric: "auto" });
  const UNITS = [
    ["year", 365 * 86400], ["month", 30 * 86400], ["day", 86400], ["hour", 3600],
    ["minute", 60], ["second", 1],
  ];

  function relative(ms) {
    const seconds = (ms - botNow()) / 1000;
    for (const [unit, size] of UNITS) {
      if (Math.abs(seconds) >= size || unit === "second") {
        return RELATIVE.format(Math.round(seconds / size), unit);
      }
    }
    return "";
  }

  const STAMP_FORMATS = {
    t: { hour: "2-digit", minute: "2-digit" },
    T: { hour: "2-digit", minute: "2-digit", second: "2-digit" },
    d: { year: "numeric", month: "2-digit", day: "2-digit" },
    D: { year: "numeric", month: "long", day: "numeric" },
    f: { year: "numeric", month: "long", day: "numeric", hour: "2-digit", minute: "2-digit" },
    F: {
      weekday: "long", year: "numeric", month: "long", day: "numeric", hour: "2-digit",
      minute: "2-digit",
    },
  };

  function formatStamp(ms, style) {
    if (style === "R") return relative(ms);
    return new Date(ms).toLocaleString(undefined, STAMP_FORMATS[style] || STAMP_FORMATS.f);
  }

  function stamp(ms, style) {
    const node = el("time", {
      class: "stamp", datetime: new Date(ms).toISOString(), "data-ms": ms, "data-style": style,
      title: formatStamp(ms, "F"),
    }, formatStamp(ms, style));
    return node;
  }

  function refreshRelativeTimes() {
    for (const node of document.querySelectorAll('time[data-style="R"]')) {
      node.textContent = formatStamp(Number(node.dataset.ms), "R");
    }
  }

  // ---- markdown (Discord's subset), built as DOM nodes so nothing is interpreted as HTML --

  const INLINE = new RegExp([
    "(`+)([\\s\\S]*?[^`])\\1(?!`)",
    "\\[([^\\[\\]]+)\\]\\((https?:\\/\\/[^\\s)]+)\\)",
    "(https?:\\/\\/[^\\s<>]*[^\\s<>.,;:!?)\\]'\"])",
    "<@!?(\\d+)>",
    "<@&(\\d+)>",
    "<#(\\d+)>",
    "<t:(-?\\d+)(?::([tTdDfFR]))?>",
    "\\*\\*([\\s\\S]+?)\\*\\*(?!\\*)",
    "__([\\s\\S]+?)__(?!_)",
    "~~([\\s\\S]+?)~~",
    "\\|\\|([\\s\\S]+?)\\|\\|",
    "\\*(?![\\s*])([\\s\\S]+?)(?<!\\s)\\*",
    "(?<!\\w)_(?![\\s_])([\\s\\S]+?)(?<!\\s)_(?!\\w)",
  ].join("|"), "g");

  function link(href, text) {
    return el("a", { href, target: "_blank", rel: "noopener noreferrer" }, text);
  }

  function inlineNode(m) {
    if (m[2] !== undefined) return el("code", {}, m[2]);
    if (m[4] !== undefined) return link(m[4], m[3]);
    if (m[5] !== undefined) return link(m[5], m[5]);
    if (m[6] !== undefined) return el("span", { class: "mention" }, `@${userName(m[6])}`);
    if (m[7] !== undefined) {
      const role = findRole(m[7]);
      return el("span", { class: "mention" }, `@${role ? role.name : "deleted role"}`);
    }
    if (m[8] !== undefined) {
      const found = findChannel(m[8]);
      const node = el("a", { class: "mention", href: "#" }, `#${found ? found.channel.name : "deleted-channel"}`);
      node.addEventListener("click", (event) => {
        event.preventDefault();
        if (found) selectGuild(found.guild.id, m[8]);
      });
      return node;
    }
    if (m[9] !== undefined) return stamp(Number(m[9]) * 1000, m[10] || "f");
    const wrappers = [[11, "strong"], [12, "u"], [13, "s"], [15, "em"], [16, "em"]];
    for (const [group, tag] of wrappers) {
      if (m[group] !== undefined) return inline(m[group], el(tag));
    }
    const spoiler = inline(m[14], el("span", { class: "spoiler", title: "Spoiler: click to show" }));
    spoiler.addEventListener("click", () => spoiler.classList.add("revealed"));
    return spoiler;
  }

  function inline(text, parent) {
    let last = 0;
    for (const match of text.matchAll(INLINE)) {
      if (match.index > last) parent.append(text.slice(last, match.index));
      parent.append(inlineNode(match));
      last = match.index + match[0].length;
    }
    if (last < text.length) parent.append(text.slice(last));
    return parent;
  }

  function markdown(text, className) {
    const root = el("div", { class: className });
    const parts = text.split(/```(?:[\w+-]*\n)?([\s\S]*?)```/);
    parts.forEach((part, index) => {
      if (index % 2 === 1) {
        root.append(el("pre", {}, el("code", {}, part)));
        return;
      }
      let quote = null;
      part.split("\n").forEach((line, lineIndex, lines) => {
        const quoted = /^> ?(.*)$/.exec(line);
        if (quoted) {
          if (!quote) root.append(quote = el("blockquote"));
          else quote.append("\n");
          inline(quoted[1], quote);
          return;
        }
        quote = null;
        const heading = /^(#{1,3}) (.*)$/.exec(line);
        if (heading) {
          root.append(inline(heading[2], el(`h${heading[1].length + 2}`)));
          return;
        }
        inline(line, root);
        if (lineIndex < lines.length - 1) root.append("\n");
      });
    });
    return root;
  }

  // ---- messages -------------------------------------------------------------------------

  function renderEmbed(embed) {
    const box = el("div", { class: "embed" });
    if (typeof embed.color === "number") {
      box.style.borderLeftColor = `#${embed.color.toString(16).padStart(6, "0")}`;
    }
    if (embed.author && embed.author.name) {
      box.append(el("div", { class: "embed-author" }, embed.author.name));
    }
    if (embed.title) {
      const title = el("div", { class: "embed-title" });
      if (embed.url) title.append(link(embed.url, embed.title));
      else inline(embed.title, title);
      box.append(title);
    }
    if (embed.description) box.append(markdown(embed.description, "embed-description"));
    if (embed.fields && embed.fields.length) {
      const fields = el("div", { class: "embed-fields" });
      for (const field of embed.fields) {
        fields.append(el("div", { class: field.inline ? "embed-field inline" : "embed-field" },
          inline(field.name, el("div", { class: "embed-field-name" })),
          markdown(field.value, "embed-field-value")));
      }
      box.append(fields);
    }
    for (const key of ["image", "thumbnail"]) {
      if (embed[key] && /^https?:/.test(embed[key].url)) box.append(el("img", { src: embed[key].url, alt: "" }));
    }
    const footer = [];
    if (embed.footer && embed.footer.text) footer.push(embed.footer.text);
    if (embed.timestamp) footer.push(formatStamp(Date.parse(embed.timestamp), "f"));
    if (footer.length) box.append(el("div", { class: "embed-footer" }, footer.join(" • ")));
    return box;
  }

  function selectOptions(component) {
    const g = guild();
    const members = g ? g.members.map((m) => ({ label: m.name, value: m.id })) : [];
    const roles = g ? g.roles.map((r) => ({ label: `@${r.name}`, value: r.id })) : [];
    const channels = g ? g.channels.map((c) => ({ label: `#${c.name}`, value: c.id })) : [];
    switch (component.type) {
      case COMPONENT.STRING_SELECT: return component.options || [];
      case COMPONENT.USER_SELECT: return members;
      case COMPONENT.ROLE_SELECT: return roles;
      case COMPONENT.MENTIONABLE_SELECT: return [...members, ...roles];
      default: return channels;
    }
  }

  function renderSelect(message, component) {
    const multiple = (component.max_values || 1) > 1;
    const select = el("select", { "data-custom-id": component.custom_id, multiple });
    select.disabled = Boolean(component.disabled);
    if (!multiple) select.append(el("option", { value: "", disabled: "", selected: "" }, component.placeholder || "Make a selection"));
    for (const option of selectOptions(component)) {
      select.append(el("option", { value: option.value, title: option.description }, option.label));
    }
    const send = () => click(message, component.custom_id, [...select.selectedOptions].map((o) => o.value), select);
    if (!multiple) {
      select.addEventListener("change", send);
      return select;
    }
    const apply = el("button", { type: "button", class: "style-1" }, "Choose");
    apply.addEventListener("click", send);
    return el("span", {}, select, apply);
  }

  function renderComponent(message, component) {
    if (component.type === COMPONENT.BUTTON) {
      const label = [component.emoji && component.emoji.name, component.label].filter(Boolean).join(" ");
      if (component.style === LINK_STYLE) {
        return el("a", { class: "link-button", href: component.url, target: "_blank", rel: "noopener noreferrer" }, `${label} ↗`);
      }
      const button = el("button", { type: "button", class: `style-${component.style}`, "data-custom-id": component.custom_id }, label);
      button.disabled = Boolean(component.disabled);
      button.addEventListener("click", () => click(message, component.custom_id, undefined, button));
      return button;
    }
    return renderSelect(message, component);
  }

  function renderMessage(message) {
    const item = el("li", {
      class: message.ephemeral ? "message ephemeral" : "message", "data-id": message.id,
    });
    if (message.command) {
      item.append(el("div", { class: "used" }, `${message.command.user_name} used `,
        el("code", {}, `/${message.command.name}`)));
    }
    const created = Date.parse(message.created_at);
    const head = el("div", { class: "head" }, el("span", { class: "author" }, message.author.name));
    if (message.author.bot) head.append(el("span", { class: "app-tag" }, "APP"));
    head.append(el("time", { datetime: message.created_at, title: formatStamp(created, "F") },
      formatStamp(created, "t")));
    if (message.edited_at) head.append(el("span", { class: "edited" }, "(edited)"));
    item.append(head);
    if (message.loading) item.append(el("div", { class: "thinking" }, `${message.author.name} is thinking…`));
    if (message.content) item.append(markdown(message.content, "content"));
    for (const embed of message.embeds) item.append(renderEmbed(embed));
    for (const file of message.attachments) item.append(el("div", {}, link(file.url, `Attachment: ${file.filename}`)));
    const rows = message.components.filter((c) => c.type === COMPONENT.ROW);
    if (rows.length) {
      const components = el("div", { class: "components" });
      for (const row of rows) {
        const line = el("div", { class: "row" });
        for (const component of row.components || []) line.append(renderComponent(message, component));
        components.append(line);
      }
      item.append(components);
    }
    if (message.ephemeral) item.append(el("div", { class: "only-you" }, "Only you can see this"));
    return item;
  }

  function placeOf(message) {
    return message.dm_user_id ? DM : message.channel_id;
  }

  function nearBottom(list) {
    return list.scrollHeight - list.scrollTop - list.clientHeight < 80;
  }

  function showMessage(message) {
    const list = $("messages");
    const stick = nearBottom(list);
    const existing = list.querySelector(`li[data-id="${message.id}"]`);
    if (message.deleted) {
      if (existing) existing.remove();
      return;
    }
    const item = renderMessage(message);
    if (existing) {
      existing.replaceWith(item);
    } else {
      list.querySelector(".empty")?.remove();
      const later = [...list.children].find((li) => li.dataset.id && compareIds(li.dataset.id, message.id) > 0);
      list.insertBefore(item, later || null);
    }
    if (stick || !existing) list.scrollTop = list.scrollHeight;
  }

  function messagesPath(place, user, before) {
    const query = new URLSearchParams({ user });
    if (before) query.set("before", before);
    return place === DM ? `api/dms/${user}/messages?${query}` : `api/channels/${place}/messages?${query}`;
  }

  function olderButton(place, user, before) {
    const button = el("button", { type: "button", id: "older", class: "older" }, "Show older messages");
    button.addEventListener("click", () => loadOlder(place, user, before, button).catch(report));
    return el("li", { class: "older-row" }, button);
  }

  // The server sends the latest page; older pages come one at a time, on request.
  async function loadOlder(place, user, before, button) {
    button.disabled = true;
    const data = await api(messagesPath(place, user, before));
    if (place !== state.place || user !== state.userId) return;
    const list = $("messages");
    const anchor = button.parentElement;
    const height = list.scrollHeight;
    for (const message of data.messages) list.insertBefore(renderMessage(message), anchor);
    if (data.more && data.messages.length) list.insertBefore(olderButton(place, user, data.messages[0].id), list.firstChild);
    anchor.remove();
    list.scrollTop += list.scrollHeight - height;
  }

  async function loadMessages() {
    if (!state.userId || !state.place) return;
    const place = state.place;
    const user = state.userId;
    const data = await api(messagesPath(place, user));
    if (place !== state.place || user !== state.userId) return;
    const list = $("messages");
    list.replaceChildren();
    if (!data.messages.length) list.append(el("li", { class: "empty" }, "No messages yet."));
    if (data.more && data.messages.length) list.append(olderButton(place, user, data.messages[0].id));
    for (const message of data.messages) list.append(renderMessage(message));
    list.scrollTop = list.scrollHeight;
  }

  async function click(message, customId, values, control) {
    control.disabled = true;
    const item = control.closest(".message");
    item.querySelector(".failed")?.remove();
    try {
      const answer = await api("api/click", {
        user: state.userId, message: message.id, custom_id: customId, values,
      });
      if (!answer.answered) item.append(el("div", { class: "failed" }, "This interaction failed: the bot did not respond."));
      if (answer.modal) openModal(answer.interaction, answer.modal);
    } catch (error) {
      item.append(el("div", { class: "failed" }, error.message));
    } finally {
      if (control.isConnected) control.disabled = false;
    }
  }

  // ---- the command composer -------------------------------------------------------------

  function selectedCommand() {
    return state.commands.find((c) => c.path === $("command").value) || null;
  }

  async function loadCommands() {
    if (!state.userId) return;
    const query = new URLSearchParams({ user: state.userId });
    if (state.place !== DM && state.guildId) query.set("guild", state.guildId);
    const data = await api(`api/commands?${query}`);
    const previous = $("command").value;
    state.commands = data.commands;
    const select = $("command");
    select.replaceChildren(...state.commands.map((c) => el("option", { value: c.path, title: c.description }, c.path)));
    if (!state.commands.length) select.append(el("option", { value: "" }, "no commands here"));
    if (state.commands.some((c) => c.path === previous)) select.value = previous;
    $("send").disabled = !state.commands.length;
    if (JSON.stringify(selectedCommand()) !== state.shownCommand) renderOptions();
  }

  function choicesFor(option) {
    const g = guild();
    const blank = option.required ? [] : [{ name: "—", value: "" }];
    if (option.choices && option.choices.length) return [{ name: "Choose…", value: "" }, ...option.choices];
    const members = g ? g.members.map((m) => ({ name: m.name, value: m.id })) : [];
    const roles = g ? g.roles.map((r) => ({ name: `@${r.name}`, value: r.id })) : [];
    switch (option.type) {
      case OPTION.BOOLEAN: return [{ name: "Choose…", value: "" }, { name: "true", value: "true" }, { name: "false", value: "false" }];
      case OPTION.USER: return [...blank, ...members];
      case OPTION.ROLE: return [...blank, ...roles];
      case OPTION.MENTIONABLE: return [...blank, ...members, ...roles];
      case OPTION.CHANNEL: return [...blank, ...(g ? g.channels.map((c) => ({ name: `#${c.name}`, value: c.id })) : [])];
      default: return null;
    }
  }

  function optionField(option) {
    const id = `option-${option.name}`;
    const label = el("label", { for: id }, option.name);
    if (option.required) label.append(el("span", { class: "required", title: "required" }, " *"));
    const field = el("div", { class: "option" }, label);
    const choices = choicesFor(option);
    let input;
    if (choices) {
      input = el("select", { id, name: option.name });
      for (const choice of choices) input.append(el("option", { value: choice.value }, choice.name));
    } else if (option.type === OPTION.INTEGER || option.type === OPTION.NUMBER) {
      input = el("input", {
        id, name: option.name, type: "number", min: option.min_value, max: option.max_value,
        step: option.type === OPTION.INTEGER ? "1" : "any",
      });
    } else if (option.type === OPTION.ATTACHMENT) {
      input = el("input", { id, name: option.name, type: "file" });
    } else {
      input = el("input", { id, name: option.name, type: "text", minlength: option.min_length, maxlength: option.max_length });
    }
    field.append(input);
    if (option.description) field.append(el("span", { class: "hint" }, option.description));
    if (option.autocomplete) attachAutocomplete(input, option, field);
    return field;
  }

  function renderOptions() {
    const command = selectedCommand();
    state.shownCommand = JSON.stringify(command);
    $("command-help").textContent = command ? command.description : "";
    $("composer-error").textContent = "";
    $("options").replaceChildren(...(command ? command.options.map(optionField) : []));
  }

  function optionValues() {
    const values = {};
    for (const input of $("options").querySelectorAll("input, select")) {
      if (input.disabled || input.value === "" || input.type === "file") continue;
      const chosen = input.dataset.chosen !== undefined && input.value === input.dataset.chosenName;
      values[input.name] = chosen ? input.dataset.chosen : input.value;
    }
    return values;
  }

  function fileBase64(file) {
    return new Promise((resolve, reject) => {
      const reader = new FileReader();
      reader.onload = () => resolve(String(reader.result).split(",", 2)[1] || "");
      reader.onerror = () => reject(new Error(`${file.name} could not be read.`));
      reader.readAsDataURL(file);
    });
  }

  async function attachedFiles() {
    const files = {};
    for (const input of $("options").querySelectorAll("input[type=file]")) {
      const file = input.files && input.files[0];
      if (!file) continue;
      files[input.name] = { filename: file.name, content_type: file.type || null, data_base64: await fileBase64(file) };
    }
    return files;
  }

  function where() {
    if (state.place === DM) return { guild: null, channel: null };
    return { guild: state.guildId, channel: state.place };
  }

  function attachAutocomplete(input, option, field) {
    const list = el("ul", { class: "suggestions", role: "listbox", hidden: "" });
    field.append(list);
    let timer = null;
    let asked = 0;
    let choices = [];
    let active = -1;

    function show() {
      list.replaceChildren(...choices.map((choice, index) => {
        const item = el("li", { role: "option", "aria-selected": String(index === active) }, choice.name);
        item.addEventListener("mousedown", (event) => {
          event.preventDefault();
          choose(choice);
        });
        return item;
      }));
      list.hidden = choices.length === 0;
    }

    function choose(choice) {
      input.value = choice.name;
      input.dataset.chosen = String(choice.value);
      input.dataset.chosenName = choice.name;
      list.hidden = true;
    }

    function ask() {
      clearTimeout(timer);
      timer = setTimeout(async () => {
        const mine = ++asked;
        const options = { ...optionValues(), [option.name]: input.value };
        try {
          const data = await api("api/autocomplete", {
            user: state.userId, ...where(), command: $("command").value, options, focused: option.name,
          });
          if (mine !== asked || document.activeElement !== input) return;
          choices = data.choices;
        } catch {
          choices = [];
        }
        active = -1;
        show();
      }, AUTOCOMPLETE_DELAY_MS);
    }

    input.addEventListener("input", () => {
      delete input.dataset.chosen;
      ask();
    });
    input.addEventListener("focus", ask);
    input.addEventListener("blur", () => { list.hidden = true; });
    input.addEventListener("keydown", (event) => {
      if (list.hidden) return;
      if (event.key === "ArrowDown" || event.key === "ArrowUp") {
        event.preventDefault();
        const step = event.key === "ArrowDown" ? 1 : -1;
        active = (active + step + choices.length) % choices.length;
        show();
      } else if (event.key === "Enter" && active >= 0) {
        event.preventDefault();
        choose(choices[active]);
      } else if (event.key === "Escape") {
        list.hidden = true;
      }
    });
  }

  async function send(event) {
    event.preventDefault();
    const command = selectedCommand();
    if (!command) return;
    const error = $("composer-error");
    error.textContent = "";
    $("send").disabled = true;
    try {
      const options = { ...optionValues(), ...(await attachedFiles()) };
      const answer = await api("api/invoke", {
        user: state.userId, ...where(), command: command.path, options,
      });
      renderOptions();
      if (!answer.answered) error.textContent = "The application did not respond.";
      if (answer.modal) openModal(answer.interaction, answer.modal);
    } catch (failure) {
      error.textContent = failure.message;
    } finally {
      $("send").disabled = !state.commands.length;
    }
  }

  // ---- modals ---------------------------------------------------------------------------

  function modalInputs(components, label) {
    const found = [];
    for (const component of components || []) {
      if (component.type === COMPONENT.TEXT_INPUT) found.push({ input: component, label: component.label || label });
      else if (component.type === COMPONENT.LABEL) found.push(...modalInputs([component.component], component.label));
      else found.push(...modalInputs(component.components, label));
    }
    return found;
  }

  function openModal(interactionId, modal) {
    const dialog = $("modal");
    $("modal-title").textContent = modal.title;
    $("modal-error").textContent = "";
    const fields = modalInputs(modal.components).map(({ input, label }) => {
      const attributes = {
        name: input.custom_id, required: input.required !== false ? "" : null,
        minlength: input.min_length, maxlength: input.max_length, placeholder: input.placeholder,
      };
      const control = input.style === 2 ? el("textarea", attributes, input.value || "") : el("input", { ...attributes, value: input.value });
      return el("label", {}, label || input.custom_id, control);
    });
    $("modal-fields").replaceChildren(...fields);
    $("modal-form").onsubmit = async (event) => {
      event.preventDefault();
      const values = {};
      for (const control of $("modal-fields").querySelectorAll("input, textarea")) values[control.name] = control.value;
      try {
        await api("api/modal", { user: state.userId, interaction: interactionId, values });
        dialog.close();
      } catch (error) {
        $("modal-error").textContent = error.message;
      }
    };
    $("modal-cancel").onclick = () => dialog.close();
    dialog.showModal();
  }

  // ---- the sidebar ----------------------------------------------------------------------

  function initials(name) {
    return name.split(/\s+/).filter(Boolean).slice(0, 3).map((word) => word[0]).join("").toUpperCase();
  }

  function badge(count) {
    return count ? el("span", { class: "badge" }, String(count)) : "";
  }

  function renderGuilds() {
    $("guilds").replaceChildren(...state.world.guilds.map((g) => {
      const unread = g.channels.reduce((sum, c) => sum + (state.unread.get(c.id) || 0), 0);
      const button = el("button", {
        type: "button", title: g.name, "aria-label": g.name, "aria-current": String(g.id === state.guildId),
      }, initials(g.name));
      if (unread) button.append(badge(unread));
      button.addEventListener("click", () => selectGuild(g.id));
      return button;
    }));
  }

  function placeButton(key, label) {
    const button = el("button", { type: "button", "aria-current": String(state.place === key), "data-place": key },
      el("span", {}, label), badge(state.unread.get(key) || 0));
    button.addEventListener("click", () => selectPlace(key));
    return el("li", {}, button);
  }

  function renderSidebar() {
    const g = guild();
    $("guild-name").textContent = g ? g.name : "No servers";
    $("channels").replaceChildren(...(g ? g.channels.map((c) => placeButton(c.id, `# ${c.name}`)) : []));
    $("dms").replaceChildren(placeButton(DM, `@ ${state.world.bot.name}`));
    const select = $("member");
    select.replaceChildren(...(g ? humans(g) : []).map((m) => el("option", { value: m.id }, m.name)));
    select.value = state.userId || "";
    const member = g && g.members.find((m) => m.id === state.userId);
    const roles = member ? member.roles.map((id) => findRole(id)).filter(Boolean).map((r) => r.name) : [];
    if (g && g.owner_id === state.userId) roles.unshift("server owner");
    $("member-roles").textContent = roles.length ? roles.join(", ") : "no roles";
    const title = state.place === DM ? `@ ${state.world.bot.name}` : `# ${(findChannel(state.place) || { channel: { name: "" } }).channel.name}`;
    $("place-name").textContent = title;
    renderGuilds();
  }

  function remember() {
    const params = new URLSearchParams({ guild: state.guildId || "", user: state.userId || "", place: state.place || "" });
    history.replaceState(null, "", `#${params}`);
  }

  async function selectPlace(place) {
    state.place = place;
    state.unread.delete(place);
    renderSidebar();
    remember();
    $("messages").replaceChildren();
    await Promise.all([loadMessages(), loadCommands()]);
  }

  async function selectGuild(guildId, place) {
    state.guildId = guildId;
    const g = guild();
    const members = g ? humans(g) : [];
    const userChanged = !members.some((m) => m.id === state.userId);
    if (userChanged) state.userId = members.length ? members[0].id : null;
    const fallback = g && g.channels.length ? g.channels[0].id : DM;
    const next = place || (state.place === DM ? DM : fallback);
    if (userChanged) openFeed();
    await selectPlace(next);
  }

  async function selectUser(userId) {
    state.userId = userId;
    state.unread.clear();
    openFeed();
    await selectPlace(state.place);
  }

  // ---- the live feed --------------------------------------------------------------------

  async function loadWorld() {
    state.world = await api("api/world");
    state.clock.scale = state.world.time_scale;
    document.title = state.world.title;
  }

  function openFeed() {
    if (state.feed) state.feed.close();
    if (!state.userId) return;
    const feed = new EventSource(`api/events?user=${state.userId}`);
    state.feed = feed;
    feed.onmessage = (event) => {
      if (feed === state.feed) receive(JSON.parse(event.data)).catch(report);
    };
    feed.onerror = () => { $("status").textContent = "reconnecting…"; };
  }

  async function receive(event) {
    syncClock(event.now);
    switch (event.kind) {
      case "hello":
        $("status").textContent = "live";
        await Promise.all([loadMessages(), loadCommands()]);
        break;
      case "message": {
        const message = event.message;
        const place = placeOf(message);
        if (place === state.place) {
          showMessage(message);
        } else if (event.change === "created") {
          state.unread.set(place, (state.unread.get(place) || 0) + 1);
          renderSidebar();
        }
        break;
      }
      case "world":
        await loadWorld();
        renderSidebar();
        break;
      case "commands":
        await loadCommands();
        break;
      case "connected":
        await Promise.all([loadMessages(), loadCommands()]);
        break;
      default:
        break;
    }
    refreshRelativeTimes();
  }

  function report(error) {
    $("status").textContent = error.message;
  }

  async function start() {
    await loadWorld();
    const saved = new URLSearchParams(location.hash.slice(1));
    const first = state.world.guilds[0];
    const savedGuild = state.world.guilds.find((g) => g.id === saved.get("guild"));
    state.guildId = (savedGuild || first || { id: null }).id;
    const g = guild();
    const members = g ? humans(g) : [];
    state.userId = (members.find((m) => m.id === saved.get("user")) || members[0] || { id: null }).id;
    const savedPlace = saved.get("place");
    const validPlace = savedPlace === DM || (g && g.channels.some((c) => c.id === savedPlace));
    state.place = validPlace ? savedPlace : (g && g.channels.length ? g.channels[0].id : DM);
    $("member").addEventListener("change", (event) => selectUser(event.target.value).catch(report));
    $("command").addEventListener("change", renderOptions);
    $("composer").addEventListener("submit", send);
    setInterval(refreshRelativeTimes, 1000);
    renderSidebar();
    remember();
    openFeed();
  }

  start().catch(report);
})();
