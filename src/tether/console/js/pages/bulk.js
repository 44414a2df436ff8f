// Bulk operations (/devicecontrol/bulkoperations): the list with each one's progress, a new one for a device
// group from an operation prototype (JSON fragments), cancel. Groups are the objects with c8y_IsDeviceGroup.

import { api } from "../api.js";
import { badge, empty, errorBox, field, h, replace, timeEl, toast } from "../dom.js";

const KIND = { SCHEDULED: "off", EXECUTING: "info", EXECUTING_WITH_ERRORS: "warn", SUCCESSFUL: "ok", FAILED: "bad", CANCELED: "off" };

export async function render(main, { onLeave }) {
  document.title = "Bulk operations · Tether";
  const problem = h("div", { "aria-live": "polite" });
  const list = h("div", { id: "bulk-list" }, h("p", { class: "muted" }, "Loading…"));
  const group = h("select", { name: "bulk-group", required: true }, h("option", { value: "" }, "Choose a group"));
  const prototype = h("textarea", { name: "bulk-prototype", rows: 3, required: true }, '{"description": "Restart", "c8y_Restart": {}}');
  const ramp = h("input", { name: "bulk-ramp", type: "number", min: 0, step: "any", value: 0 });
  const form = h("form", { class: "card", "aria-labelledby": "h-new-bulk" }, h("h2", { id: "h-new-bulk" }, "New bulk operation"),
    h("div", { class: "filters" }, field("Device group", group), field("Operation (JSON)", prototype, "The fragments every device's operation gets"),
      field("Seconds between operations", ramp)),
    h("button", { type: "submit" }, "Create bulk operation"));
  replace(main, h("h1", {}, "Bulk operations"), problem, form, h("h2", {}, "Bulk operations"), list);

  try {
    const groups = await api("/inventory/managedObjects", { query: { fragmentType: "c8y_IsDeviceGroup", pageSize: 200, withChildren: false } });
    for (const g of groups.managedObjects) group.append(h("option", { value: g.id }, g.name || g.id));
  } catch (error) {
    replace(problem, errorBox(error));
  }
  const load = async () => {
    try {
      const body = await api("/devicecontrol/bulkoperations", { query: { pageSize: 100 } });
      const items = body.bulkOperations.slice().reverse();
      if (!items.length) return replace(list, empty("No bulk operations yet."));
      replace(list, h("div", { class: "table-wrap" }, h("table", { class: "list", id: "bulk-table" },
        h("thead", {}, h("tr", {}, ["Id", "Operation", "Group", "Start", "Status", "Progress", "Actions"].map((c) => h("th", { scope: "col" }, c)))),
        h("tbody", {}, items.map((b) => {
          const p = b.progress;
          const what = b.operationPrototype.description || Object.keys(b.operationPrototype).join(", ");
          const running = b.status === "ACTIVE" || b.status === "IN_PROGRESS" || p.pending > 0;
          const cancel = async () => {
            try {
              await api(`/devicecontrol/bulkoperations/${b.id}`, { method: "DELETE" });
              toast(`Bulk operation ${b.id} cancelled.`);
              load();
            } catch (error) {
              replace(problem, errorBox(error));
            }
          };
          return h("tr", { dataset: { bulk: b.id } },
            h("td", {}, b.id), h("td", {}, what), h("td", {}, b.groupId || (b.failedParentId ? `retry of ${b.failedParentId}` : "—")),
            h("td", {}, timeEl(b.startDate)), h("td", {}, badge(b.generalStatus, KIND[b.generalStatus] || "info")),
            h("td", {}, `${p.successful} successful, ${p.failed} failed, ${p.executing} executing, ${p.pending} pending of ${p.all}`),
            h("td", { class: "actions" }, b.status !== "DELETED" && running
              ? h("button", { type: "button", class: "secondary", "aria-label": `Cancel bulk operation ${b.id}`, onclick: cancel }, "Cancel")
              : ""));
        })))));
    } catch (error) {
      replace(list, errorBox(error));
    }
  };
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    let fragments;
    try {
      fragments = JSON.parse(prototype.value);
    } catch (error) {
      return replace(problem, errorBox(new Error(`The operation is not JSON: ${error.message}`)));
    }
    try {
      const body = { groupId: group.value, operationPrototype: fragments, creationRamp: Number(ramp.value || 0) };
      const created = await api("/devicecontrol/bulkoperations", { method: "POST", body });
      toast(`Bulk operation ${created.id} created.`);
      replace(problem);
      load();
    } catch (error) {
      replace(problem, errorBox(error));
    }
  });
  await load();
  const timer = setInterval(load, 3000); // progress moves as devices answer
  onLeave(() => clearInterval(timer));
}
