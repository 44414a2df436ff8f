// Data retention (Cumulocity /retention/retentions): the tenant's rules, a new rule, delete. Data older than a
// rule's maximum age is deleted by the server's retention job; tenants without a catch-all rule keep data for
// the platform default (TETHER_DEFAULT_RETENTION_DAYS).

import { api } from "../api.js";
import { badge, empty, errorBox, field, h, replace, toast } from "../dom.js";

const TYPES = ["*", "MEASUREMENT", "EVENT", "ALARM", "OPERATION", "AUDIT", "BINARY"];

export async function render(main) {
  document.title = "Retention · Tether";
  const problem = h("div", { "aria-live": "polite" });
  const list = h("div", { id: "retention-rules" }, h("p", { class: "muted" }, "Loading…"));
  const dataType = h("select", { name: "rule-data-type" }, TYPES.map((t) => h("option", { value: t }, t === "*" ? "* (all but binaries)" : t)));
  const age = h("input", { name: "rule-maximum-age", type: "number", min: "1", required: true, value: "30" });
  const type = h("input", { name: "rule-type", autocomplete: "off", placeholder: "*" });
  const source = h("input", { name: "rule-source", autocomplete: "off", placeholder: "* (or a device id)" });
  const fragment = h("input", { name: "rule-fragment-type", autocomplete: "off", placeholder: "*" });
  const form = h("form", { class: "card", "aria-labelledby": "h-new-rule" }, h("h2", { id: "h-new-rule" }, "New retention rule"),
    h("div", { class: "filters" }, field("Data type", dataType), field("Maximum age (days)", age), field("Type", type),
      field("Source", source), field("Fragment type", fragment, "Measurements, events and operations")),
    h("button", { type: "submit" }, "Create rule"));
  replace(main, h("h1", {}, "Data retention"),
    h("p", { class: "muted" }, "Data older than a rule's maximum age is deleted by the retention job. A tenant without a catch-all rule (all fields *) keeps data for the server's default number of days."),
    problem, form, h("h2", {}, "Rules of this tenant"), list);

  const load = async () => {
    try {
      const body = await api("/retention/retentions", { query: { pageSize: 100 } });
      if (!body.retentionRules.length) return replace(list, empty("No rules: the server's default applies."));
      replace(list, h("div", { class: "table-wrap" }, h("table", { class: "list", id: "rule-table" },
        h("thead", {}, h("tr", {}, ["Data type", "Type", "Source", "Fragment type", "Maximum age", "Editable", "Actions"].map((c) => h("th", { scope: "col" }, c)))),
        h("tbody", {}, body.retentionRules.map((r) => h("tr", { dataset: { rule: r.id } },
          h("td", {}, r.dataType), h("td", {}, r.type), h("td", {}, r.source), h("td", {}, r.fragmentType),
          h("td", {}, `${r.maximumAge} days`), h("td", {}, badge(r.editable ? "yes" : "no", r.editable ? "ok" : "off")),
          h("td", { class: "actions" }, h("button", { type: "button", class: "secondary", "aria-label": `Delete rule ${r.id}`,
            onclick: async () => {
              try {
                await api(`/retention/retentions/${r.id}`, { method: "DELETE" });
                toast("Rule deleted.");
                replace(problem);
                load();
              } catch (error) {
                replace(problem, errorBox(error));
              }
            } }, "Delete"))))))));
    } catch (error) {
      replace(list, errorBox(error));
    }
  };
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const body = { dataType: dataType.value, maximumAge: Number(age.value) };
    if (type.value.trim()) body.type = type.value.trim();
    if (source.value.trim()) body.source = source.value.trim();
    if (fragment.value.trim()) body.fragmentType = fragment.value.trim();
    try {
      await api("/retention/retentions", { method: "POST", body });
      toast("Rule created.");
      form.reset();
      replace(problem);
      load();
    } catch (error) {
      replace(problem, errorBox(error));
    }
  });
  await load();
}
