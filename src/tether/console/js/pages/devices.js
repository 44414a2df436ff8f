// Devices: search by name, filter by type, group and status; paged on the server (inventory query language).

import { api, quoted } from "../api.js";
import { badge, empty, errorBox, field, h, replace, timeEl } from "../dom.js";
import { realtime } from "../realtime.js";

const PAGE_SIZE = 20;
const STATUSES = {
  "": "Any status",
  connected: ["c8y_Connection.status eq 'CONNECTED'", "Connected"],
  disconnected: ["c8y_Connection.status eq 'DISCONNECTED'", "Disconnected"],
  available: ["c8y_Availability.status eq 'AVAILABLE'", "Available"],
  unavailable: ["c8y_Availability.status eq 'UNAVAILABLE'", "Unavailable"],
};

// Protocol families by the fragments their adapters write (Fleets things, Xyte devices); the rest is Cumulocity's.
export const FAMILIES = {
  cumulocity: ["not has(fleets_Thing) and not has(xyte_Device)", "Cumulocity"],
  fleets: ["has(fleets_Thing)", "EMQX Fleets"],
  xyte: ["has(xyte_Device)", "Xyte"],
};

function familyOf(mo) {
  if (mo.fleets_Thing) return "EMQX Fleets";
  if (mo.xyte_Device) return "Xyte";
  return "Cumulocity";
}

export function status(mo) {
  const connection = mo.c8y_Connection && mo.c8y_Connection.status;
  const availability = mo.c8y_Availability && mo.c8y_Availability.status;
  const parts = [];
  if (connection) parts.push(badge(connection === "CONNECTED" ? "connected" : "disconnected", connection === "CONNECTED" ? "ok" : "off"));
  if (availability === "UNAVAILABLE") parts.push(badge("unavailable", "warn"));
  return parts.length ? parts : badge("never connected", "off");
}

function filterOf(params) {
  const terms = ["has(c8y_IsDevice)"];
  const name = params.get("name");
  if (name) terms.push(`name eq ${quoted(`*${name}*`)}`);
  if (params.get("type")) terms.push(`type eq ${quoted(params.get("type"))}`);
  if (params.get("group")) terms.push(`bygroupid(${Number(params.get("group"))})`);
  const family = FAMILIES[params.get("family") || ""];
  if (family) terms.push(`(${family[0]})`);
  const chosen = STATUSES[params.get("status") || ""];
  if (Array.isArray(chosen)) terms.push(chosen[0]);
  return `$filter=(${terms.join(" and ")}) $orderby=name`;
}

export async function render(main, { query, onLeave, navigate }) {
  document.title = "Devices · Tether";
  const page = Math.max(1, Number(query.get("page")) || 1);
  const name = h("input", { type: "search", name: "name", value: query.get("name") || "", placeholder: "part of a name" });
  const type = h("input", { name: "type", value: query.get("type") || "", placeholder: "e.g. c8y_Linux"});
  const group = h("select", { name: "group" }, h("option", { value: "" }, "Any group"));
  const statusSelect = h("select", { name: "status" },
    Object.entries(STATUSES).map(([value, label]) => h("option", { value, selected: (query.get("status") || "") === value }, Array.isArray(label) ? label[1] : label)));
  const familySelect = h("select", { name: "family" }, h("option", { value: "" }, "Any family"),
    Object.entries(FAMILIES).map(([value, [, label]]) => h("option", { value, selected: query.get("family") === value }, label)));
  const form = h("form", { class: "filters", role: "search", "aria-label": "Find devices" },
    field("Name", name), field("Type", type), field("Group", group), field("Family", familySelect), field("Status", statusSelect),
    h("div", { class: "field actions" }, h("button", { type: "submit" }, "Search")));
  const results = h("div", { id: "device-results", "aria-live": "polite" }, h("p", { class: "muted" }, "Loading…"));
  replace(main, h("h1", {}, "Devices"), form, results);

  const go = (nextPage) => {
    const params = new URLSearchParams();
    for (const [key, value] of [["name", name.value.trim()], ["type", type.value.trim()], ["group", group.value], ["family", familySelect.value], ["status", statusSelect.value]]) {
      if (value) params.set(key, value);
    }
    if (nextPage > 1) params.set("page", nextPage);
    navigate(`/ui/devices${params.toString() ? `?${params}` : ""}`);
  };
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    go(1);
  });
  statusSelect.addEventListener("change", () => go(1));
  group.addEventListener("change", () => go(1));
  familySelect.addEventListener("change", () => go(1));

  api("/inventory/managedObjects", { query: { fragmentType: "c8y_IsDeviceGroup", pageSize: 100, withChildren: false } })
    .then((body) => {
      for (const g of body.managedObjects) group.append(h("option", { value: g.id, selected: query.get("group") === g.id }, g.name || `#${g.id}`));
    })
    .catch(() => {});

  let body;
  try {
    body = await api("/inventory/managedObjects", {
      query: { query: filterOf(query), pageSize: PAGE_SIZE, currentPage: page, withTotalPages: true, withTotalElements: true, withChildren: false },
    });
  } catch (error) {
    replace(results, errorBox(error));
    return;
  }
  const stats = body.statistics;
  const items = body.managedObjects;
  if (!items.length) {
    const filtered = [...query.keys()].some((k) => k !== "page");
    replace(results, empty(filtered
      ? "No device matches these filters. Clear a filter or search for another name."
      : "No devices yet. Devices appear here when they connect (SmartREST, JSON via MQTT, Xyte, Fleets) or when you accept their registration."));
    return;
  }
  const rows = new Map();
  const table = h("table", { class: "list", id: "device-table" },
    h("caption", { class: "sr-only" }, "Devices"),
    h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Name"), h("th", { scope: "col" }, "Type"), h("th", { scope: "col" }, "Family"), h("th", { scope: "col" }, "Status"), h("th", { scope: "col" }, "Last update"), h("th", { scope: "col" }, "Id"))),
    h("tbody", {}, items.map((mo) => {
      const statusCell = h("td", { class: "status" }, status(mo));
      const updated = h("td", {}, timeEl(mo.lastUpdated));
      rows.set(mo.id, { statusCell, updated });
      return h("tr", { dataset: { id: mo.id } },
        h("td", {}, h("a", { href: `/ui/devices/${mo.id}` }, mo.name || `(unnamed #${mo.id})`)),
        h("td", {}, mo.type || "—"), h("td", {}, familyOf(mo)), statusCell, updated, h("td", { class: "mono" }, mo.id));
    })));
  const pages = stats.totalPages || 1;
  const pager = h("nav", { class: "pager", "aria-label": "Pages" },
    h("button", { type: "button", class: "secondary", disabled: page <= 1, "aria-label": "Previous page", onclick: () => go(page - 1) }, "‹ Previous"),
    h("span", { id: "page-info" }, `Page ${page} of ${pages} · ${stats.totalElements} devices`),
    h("button", { type: "button", class: "secondary", disabled: page >= pages, "aria-label": "Next page", onclick: () => go(page + 1) }, "Next ›"));
  replace(results, h("div", { class: "table-wrap" }, table), pager);
  performance.mark("tether:devices-rendered"); // bench/console_load.py reads it
  // Live: the status of the devices on this page.
  onLeave(realtime.subscribe("/managedobjects/*", (note) => {
    const row = note.realtimeAction === "UPDATE" && rows.get(String(note.data.id));
    if (!row) return;
    replace(row.statusCell, status(note.data));
    replace(row.updated, timeEl(note.data.lastUpdated));
  }));
}
