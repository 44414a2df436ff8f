// A device's operations: create one from its supported operations, follow each status live, cancel one the
// device has not taken yet (PENDING -> FAILED with a reason, as Cumulocity cancels).

import { api, may } from "../api.js";
import { badge, empty, errorBox, field, h, replace, timeEl, toast } from "../dom.js";
import { realtime } from "../realtime.js";

const KIND = { PENDING: "info", EXECUTING: "warn", SUCCESSFUL: "ok", FAILED: "bad" };
const SKIP = new Set(["id", "self", "deviceId", "deviceName", "status", "creationTime", "description", "failureReason", "bulkOperationId", "delivery", "agentId"]);

function fragmentOf(op) {
  return Object.keys(op).find((key) => !SKIP.has(key) && op[key] && typeof op[key] === "object") || "—";
}

export async function operationsTab(panel, { id, mo, onLeave }) {
  const supported = Array.isArray(mo.current.c8y_SupportedOperations) ? mo.current.c8y_SupportedOperations.filter((s) => typeof s === "string") : [];
  const fragment = supported.length
    ? h("select", { name: "fragment", required: true }, supported.map((name) => h("option", { value: name }, name)))
    : h("input", { name: "fragment", required: true, placeholder: "c8y_Restart", pattern: "[A-Za-z0-9_\\-]+" });
  const params = h("textarea", { name: "parameters", rows: 3, placeholder: "{}", spellcheck: false });
  const description = h("input", { name: "description", placeholder: "What this operation does" });
  const problem = h("div", { "aria-live": "polite" });
  const form = h("form", { class: "card op-form", "aria-labelledby": "op-new" },
    h("h3", { id: "op-new" }, "New operation"),
    supported.length ? null : h("p", { class: "muted" }, "The device declares no c8y_SupportedOperations: name the fragment yourself."),
    h("div", { class: "filters" }, field("Operation", fragment), field("Description", description)),
    field("Parameters (JSON object)", params, "The value of the operation's fragment, e.g. {\"text\": \"hello\"}"),
    problem,
    h("button", { type: "submit", disabled: !may("DEVICE_CONTROL", true) }, "Create operation"));
  const list = h("div", { id: "operations", "aria-live": "polite" });
  replace(panel, form, list);

  const rows = new Map();
  let tbody = null;
  const row = (op) => {
    const cancel = async () => {
      try {
        await api(`/devicecontrol/operations/${op.id}`, { method: "PUT", body: { status: "FAILED", failureReason: "Cancelled by the operator" } });
        toast("Operation cancelled.");
      } catch (error) {
        replace(problem, errorBox(error));
      }
    };
    return h("tr", { dataset: { id: op.id, status: op.status } },
      h("td", { class: "mono" }, op.id), h("td", { class: "mono" }, fragmentOf(op)), h("td", {}, op.description || "—"),
      h("td", { class: "op-status" }, badge(op.status, KIND[op.status]), op.failureReason ? h("small", {}, ` ${op.failureReason}`) : null),
      h("td", {}, timeEl(op.creationTime)),
      h("td", { class: "actions" }, op.status === "PENDING" ? h("button", { type: "button", class: "secondary", disabled: !may("DEVICE_CONTROL", true), onclick: cancel, "aria-label": `Cancel operation ${op.id}` }, "Cancel") : null));
  };
  const put = (op) => {
    if (!tbody) return show([op]);
    const fresh = row(op);
    const existing = rows.get(op.id);
    if (existing) existing.replaceWith(fresh);
    else tbody.prepend(fresh);
    rows.set(op.id, fresh);
  };
  const show = (ops) => {
    rows.clear();
    if (!ops.length) {
      replace(list, empty("No operations yet. Create one above: the device receives it when connected and reports its status here."));
      tbody = null;
      return;
    }
    tbody = h("tbody", {}, ops.map((op) => {
      const tr = row(op);
      rows.set(op.id, tr);
      return tr;
    }));
    replace(list, h("div", { class: "table-wrap" }, h("table", { class: "list" },
      h("thead", {}, h("tr", {}, ["Id", "Operation", "Description", "Status", "Created", "Actions"].map((c) => h("th", { scope: "col" }, c)))), tbody)));
  };

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    replace(problem);
    let value = {};
    if (params.value.trim()) {
      try {
        value = JSON.parse(params.value);
      } catch (error) {
        replace(problem, errorBox(`The parameters are not JSON: ${error.message}`));
        return;
      }
      if (!value || typeof value !== "object" || Array.isArray(value)) {
        replace(problem, errorBox("The parameters must be a JSON object."));
        return;
      }
    }
    const body = { deviceId: id, [fragment.value.trim()]: value };
    if (description.value.trim()) body.description = description.value.trim();
    try {
      const created = await api("/devicecontrol/operations", { method: "POST", body });
      put(created);
      toast(`Operation ${created.id} created.`);
    } catch (error) {
      replace(problem, errorBox(error));
    }
  });
  onLeave(realtime.subscribe(`/operations/${id}`, (note) => {
    if (note.realtimeAction === "DELETE") {
      const gone = rows.get(String(note.data));
      if (gone) gone.remove();
    } else put(note.data);
  }));
  try {
    const body = await api("/devicecontrol/operations", { query: { deviceId: id, pageSize: 50, revert: true } });
    show(body.operations);
  } catch (error) {
    replace(list, errorBox(error));
  }
}
