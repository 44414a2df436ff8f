// A thing's commands (/api/v1/things/{id}/commands): send one (action, params, ttl), list them paged with
// their status, cancel a SENT one. Live: a command is an operation of the thing's device, so the real-time
// channel /operations/<deviceId> hears each change; the changed command is then read from the Fleets API.

import { api } from "../api.js";
import { empty, errorBox, field, h, replace, timeEl, toast } from "../dom.js";
import { realtime } from "../realtime.js";
import { jsonObject, pager, statusBadge, table } from "./fleets_common.js";

const LIMIT = 10;

function resultText(command) {
  if (command.result === undefined) return "";
  return typeof command.result === "string" ? command.result : JSON.stringify(command.result);
}

export function commandsSection(thing, actions, onLeave, alive) {
  const base = `/api/v1/things/${encodeURIComponent(thing.id)}/commands`;
  const action = h("input", { name: "command-action", required: true, autocomplete: "off", maxlength: 128, list: "command-actions" });
  const suggestions = h("datalist", { id: "command-actions" }, actions.map((name) => h("option", { value: name })));
  const params = h("textarea", { name: "command-params", rows: 3, spellcheck: false, placeholder: "{}" });
  const ttl = h("input", { name: "command-ttl", type: "number", min: 1, max: 604800, value: 60, inputmode: "numeric" });
  const problem = h("div", { "aria-live": "polite" });
  const form = h("form", { class: "card op-form", "aria-labelledby": "h-send" },
    h("h3", { id: "h-send" }, "Send a command"),
    h("div", { class: "filters" }, field("Action", action, actions.length ? "The type's commands are offered" : null), field("Time to live (s)", ttl)),
    suggestions,
    field("Parameters (JSON object)", params, "Sent as the command's params, e.g. {\"delay\": 5}"),
    problem, h("button", { type: "submit" }, "Send command"));
  const list = h("div", { id: "commands", "aria-live": "polite" }, h("p", { class: "muted" }, "Loading…"));
  let page = 1;
  const rows = new Map();
  let tbody = null;

  const row = (c) => h("tr", { dataset: { id: c.executionId, status: c.status } },
    h("td", { class: "mono" }, c.executionId), h("td", { class: "mono" }, c.action),
    h("td", { class: "mono" }, JSON.stringify(c.params)),
    h("td", { class: "cmd-status" }, statusBadge(c.status), h("small", {}, ` ${resultText(c)}`)),
    h("td", {}, timeEl(c.createdAt)), h("td", {}, timeEl(c.updatedAt)),
    h("td", { class: "actions" }, c.status === "SENT"
      ? h("button", { type: "button", class: "secondary", "aria-label": `Cancel command ${c.executionId}`, onclick: () => cancel(c) }, "Cancel")
      : null));
  const put = (c) => {
    const existing = rows.get(c.executionId);
    if (!existing && page !== 1) return; // a new command shows on the first page
    if (!tbody) return load();
    const fresh = row(c);
    if (existing) existing.replaceWith(fresh);
    else tbody.prepend(fresh);
    rows.set(c.executionId, fresh);
  };
  const cancel = async (c) => {
    replace(problem);
    try {
      put(await api(`/api/v1/commands/${encodeURIComponent(c.executionId)}/cancel`, { method: "POST" }));
      toast(`Command ${c.executionId} canceled.`);
    } catch (error) {
      replace(problem, errorBox(error));
    }
  };
  const load = async () => {
    try {
      const body = await api(base, { query: { page, limit: LIMIT } });
      if (!alive()) return;
      rows.clear();
      if (!body.data.length) {
        tbody = null;
        replace(list, empty(page > 1 ? "No commands on this page." : "No commands yet. Send one above: a connected thing gets it on $emqx/commands/things/<name>/executions/<id>/request and its answer shows here."));
        return;
      }
      const made = body.data.map((c) => {
        const tr = row(c);
        rows.set(c.executionId, tr);
        return tr;
      });
      const wrap = table("command-table", ["Execution", "Action", "Params", "Status", "Sent", "Updated", "Actions"], made);
      tbody = wrap.querySelector("tbody");
      replace(list, wrap, pager(page, body.meta, LIMIT, (n) => {
        page = n;
        load();
      }, "commands", "Pages of commands"));
    } catch (error) {
      replace(list, errorBox(error));
    }
  };
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    replace(problem);
    const value = jsonObject(params.value, "the parameters", problem);
    if (value === null) return;
    const body = { action: action.value.trim(), params: value, ttl: Number(ttl.value) || 60 };
    try {
      const sent = await api(base, { method: "POST", body });
      toast(`Command ${sent.executionId} sent.`);
      if (page !== 1) {
        page = 1;
        await load();
      } else put(sent);
    } catch (error) {
      replace(problem, errorBox(error));
    }
  });
  const unsubscribe = realtime.subscribe(`/operations/${thing.deviceId}`, async (note) => {
    const op = note.data;
    if (note.realtimeAction === "DELETE" || !op || typeof op !== "object" || !op.fleets_Command) return;
    try {
      const command = await api(`/api/v1/commands/${encodeURIComponent(op.id)}`);
      if (alive()) put(command);
    } catch (_) {
      /* gone meanwhile: the next page load shows the truth */
    }
  });
  onLeave(unsubscribe);
  // The list is read once the subscription holds (at most 3 s later), so no change falls between the two.
  Promise.race([unsubscribe.ready, new Promise((resolve) => setTimeout(resolve, 3000))]).then(() => alive() && load());
  return h("section", { "aria-labelledby": "h-commands" }, h("h2", { id: "h-commands" }, "Commands"), form, list);
}
