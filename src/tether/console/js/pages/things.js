// EMQX Fleets things (/api/v1): list with name, type, group and status filters, create; a thing's page with
// its type and groups (thing_membership.js), its shadow (desired editor, reported state and the delta between
// them, refreshed every 3 s) and its commands (thing_commands.js).

import { api } from "../api.js";
import { badge, empty, errorBox, field, h, replace, timeEl, toast } from "../dom.js";
import { fleetsNav, pager } from "./fleets_common.js";
import { commandsSection } from "./thing_commands.js";
import { membershipCard } from "./thing_membership.js";

const LIMIT = 20;
const SHADOW_POLL_MS = 3000;

export async function render(main, { params, query, onLeave, navigate, alive }) {
  if (params[0]) return thingPage(main, decodeURIComponent(params[0]), onLeave, alive);
  document.title = "Things · Tether";
  const page = Math.max(1, Number(query.get("page")) || 1);
  const name = h("input", { type: "search", name: "thing-name", value: query.get("name") || "" });
  const type = h("input", { type: "search", name: "thing-type-filter", value: query.get("thingType") || "" });
  const group = h("input", { type: "search", name: "thing-group-filter", value: query.get("group") || "" });
  const status = h("select", { name: "thing-status" },
    [["", "Any status"], ["online", "Online"], ["offline", "Offline"]].map(([v, l]) => h("option", { value: v, selected: (query.get("status") || "") === v }, l)));
  const filters = h("form", { class: "filters", role: "search", "aria-label": "Find things" },
    field("Name", name, "* matches any characters"), field("Type", type), field("Group", group), field("Status", status), h("div", { class: "field actions" }, h("button", { type: "submit" }, "Search")));
  const newName = h("input", { name: "new-thing", required: true, autocomplete: "off", pattern: "[A-Za-z0-9_\\-:]+" });
  const newType = h("input", { name: "new-thing-type", autocomplete: "off", placeholder: "optional, must exist" });
  const problem = h("div", { "aria-live": "polite" });
  const create = h("form", { class: "filters card" }, field("New thing name", newName), field("Thing type", newType),
    h("div", { class: "field actions" }, h("button", { type: "submit" }, "Create thing")));
  const results = h("div", { id: "things" }, h("p", { class: "muted" }, "Loading…"));
  replace(main, fleetsNav("things"), h("h1", {}, "Things"), problem, create, filters, results);

  const go = (next) => {
    const p = new URLSearchParams();
    if (name.value.trim()) p.set("name", name.value.trim());
    if (type.value.trim()) p.set("thingType", type.value.trim());
    if (group.value.trim()) p.set("group", group.value.trim());
    if (status.value) p.set("status", status.value);
    if (next > 1) p.set("page", next);
    navigate(`/ui/things${p.toString() ? `?${p}` : ""}`);
  };
  filters.addEventListener("submit", (event) => {
    event.preventDefault();
    go(1);
  });
  create.addEventListener("submit", async (event) => {
    event.preventDefault();
    const body = { name: newName.value.trim() };
    if (newType.value.trim()) body.thingType = newType.value.trim();
    try {
      const thing = await api("/api/v1/things", { method: "POST", body });
      toast(`Thing ${thing.name} created.`);
      navigate(`/ui/things/${encodeURIComponent(thing.id)}`);
    } catch (error) {
      replace(problem, errorBox(error));
    }
  });
  try {
    const body = await api("/api/v1/things", { query: { page, limit: LIMIT, name: query.get("name"), thingType: query.get("thingType"), group: query.get("group"), status: query.get("status") } });
    if (!body.data.length) {
      replace(results, empty(["name", "thingType", "group", "status"].some((k) => query.get(k))
        ? "No thing matches. Clear a filter, or create the thing above."
        : "No things yet. Create one above, or name an existing device as a thing through the Fleets API."));
      return;
    }
    replace(results,
      h("div", { class: "table-wrap" }, h("table", { class: "list", id: "thing-table" },
        h("thead", {}, h("tr", {}, ["Name", "Type", "Status", "Groups", "Updated"].map((c) => h("th", { scope: "col" }, c)))),
        h("tbody", {}, body.data.map((t) => h("tr", {},
          h("td", {}, h("a", { href: `/ui/things/${encodeURIComponent(t.id)}` }, t.name)), h("td", {}, t.thingType || "—"),
          h("td", {}, badge(t.status, t.status === "online" ? "ok" : "off")), h("td", {}, (t.groups || []).join(", ") || "—"),
          h("td", {}, timeEl(t.updatedAt))))))),
      pager(page, body.meta, LIMIT, go, "things"));
  } catch (error) {
    replace(results, errorBox(error));
  }
}

async function thingPage(main, id, onLeave, alive) {
  let thing;
  try {
    thing = await api(`/api/v1/things/${encodeURIComponent(id)}`);
  } catch (error) {
    if (!alive()) return;
    replace(main, h("h1", {}, "Thing"), errorBox(error), h("p", {}, h("a", { href: "/ui/things" }, "Back to the things")));
    return;
  }
  if (!alive()) return;
  document.title = `${thing.name} · Tether`;
  const desired = h("textarea", { name: "desired", rows: 8, spellcheck: false });
  const reported = h("pre", { id: "shadow-reported" });
  const delta = h("pre", { id: "shadow-delta" });
  const version = h("span", { id: "shadow-version" });
  const problem = h("div", { "aria-live": "polite" });
  const editor = h("form", { class: "card", "aria-labelledby": "h-desired" },
    h("h2", { id: "h-desired" }, "Desired state"),
    field("Desired (JSON object; null removes an attribute)", desired),
    problem, h("button", { type: "submit" }, "Save desired state"));
  const actions = await typeCommands(thing.thingType);
  if (!alive()) return;
  replace(main, fleetsNav("things"),
    h("p", { class: "crumbs" }, h("a", { href: "/ui/things" }, "Things"), " / "),
    h("div", { class: "title-row" }, h("h1", { id: "thing-name" }, thing.name), badge(thing.status, thing.status === "online" ? "ok" : "off")),
    h("dl", { class: "facts" },
      h("dt", {}, "Thing id"), h("dd", { class: "mono" }, thing.id),
      h("dt", {}, "Client id"), h("dd", { class: "mono" }, thing.clientId || "—"),
      h("dt", {}, "Device"), h("dd", {}, h("a", { href: `/ui/devices/${thing.deviceId}` }, `#${thing.deviceId}`)),
      h("dt", {}, "Shadow version"), h("dd", {}, version),
      h("dt", {}, "Jobs"), h("dd", {}, h("a", { href: `/ui/jobs?thing=${encodeURIComponent(thing.name)}` }, "Send a job to this thing"))),
    membershipCard(thing, async (typeName) => {
      const names = await typeCommands(typeName);
      const list = main.querySelector("#command-actions");
      if (list) replace(list, names.map((n) => h("option", { value: n })));
    }),
    editor,
    h("div", { class: "columns" },
      h("section", { "aria-labelledby": "h-reported" }, h("h2", { id: "h-reported" }, "Reported by the thing"), reported),
      h("section", { "aria-labelledby": "h-delta" }, h("h2", { id: "h-delta" }, "Delta (desired, not yet reported)"), delta)),
    commandsSection(thing, actions, onLeave, alive));

  let edited = false;
  desired.addEventListener("input", () => {
    edited = true;
  });
  const load = async () => {
    try {
      const doc = await api(`/api/v1/things/${encodeURIComponent(id)}/shadow`);
      const state = doc.state || {};
      replace(version, String(doc.version ?? "—"));
      replace(reported, state.reported ? JSON.stringify(state.reported, null, 2) : "nothing reported yet");
      replace(delta, state.delta ? JSON.stringify(state.delta, null, 2) : "none: the thing reports what is desired");
      if (!edited) desired.value = JSON.stringify(state.desired || {}, null, 2);
    } catch (error) {
      if (error.status === 404) {
        replace(version, "no shadow yet");
        replace(reported, "nothing reported yet");
        replace(delta, "none");
        if (!edited) desired.value = "{}";
      } else replace(problem, errorBox(error));
    }
  };
  editor.addEventListener("submit", async (event) => {
    event.preventDefault();
    let value;
    try {
      value = JSON.parse(desired.value);
    } catch (error) {
      replace(problem, errorBox(`The desired state is not JSON: ${error.message}`));
      return;
    }
    try {
      await api(`/api/v1/things/${encodeURIComponent(id)}/shadow`, { method: "PATCH", body: { state: { desired: value } } });
      edited = false;
      replace(problem);
      toast("Desired state saved.");
      await load();
    } catch (error) {
      replace(problem, errorBox(error));
    }
  });
  await load();
  const timer = setInterval(load, SHADOW_POLL_MS);
  onLeave(() => clearInterval(timer));
}

// The commands the thing's type declares (offered as actions); none when it has no type.
async function typeCommands(typeName) {
  if (!typeName) return [];
  try {
    const body = await api("/api/v1/thing-types", { query: { limit: 100 } });
    const found = body.data.find((t) => t.name === typeName);
    return found ? found.commands.map((c) => c.name) : [];
  } catch (_) {
    return [];
  }
}
