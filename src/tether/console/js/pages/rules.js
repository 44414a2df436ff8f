// Rules (EMQX 5 rule SQL over /api/v5): the tenant's rules with their metrics, a SQL editor with the test
// call (POST /api/v5/rule_test), create, a stored rule tested on the same sample (POST /rules/{id}/test),
// enable/disable, delete. Actions: republish, or the sink actions of the Connectors page by their id.

import { api } from "../api.js";
import { badge, empty, errorBox, field, h, replace, toast } from "../dom.js";

const EXAMPLE = 'SELECT payload.temp AS temp, clientid FROM "t/#" WHERE payload.temp > 30';

export async function render(main) {
  document.title = "Rules · Tether";
  const problem = h("div", { "aria-live": "polite" });
  const id = h("input", { name: "rule-id", placeholder: "optional: generated when empty", autocomplete: "off" });
  const sql = h("textarea", { name: "sql", rows: 5, spellcheck: false, required: true });
  sql.value = EXAMPLE;
  const republish = h("input", { name: "republish-topic", placeholder: "e.g. alerts/${clientid} (empty: console only)" });
  const sinks = h("input", { name: "sink-actions", placeholder: "e.g. http:my_hook (Connectors page), comma-separated" });
  const topic = h("input", { name: "test-topic", value: "t/1" });
  const payload = h("textarea", { name: "test-payload", rows: 3, spellcheck: false });
  payload.value = '{"temp": 35}';
  const output = h("div", { id: "rule-output", "aria-live": "polite" });
  const testButton = h("button", { type: "button", class: "secondary" }, "Test SQL");
  const form = h("form", { class: "card", "aria-labelledby": "h-editor" },
    h("h2", { id: "h-editor" }, "New rule"),
    h("div", { class: "filters" }, field("Rule id", id), field("Republish to topic", republish), field("Sink actions", sinks)),
    field("SQL", sql, "EMQX rule SQL: SELECT … FROM \"topic/#\" or \"$events/…\" [WHERE …], or FOREACH … FROM …"),
    h("div", { class: "filters" }, field("Test topic", topic), field("Test payload (JSON or text)", payload)),
    output,
    h("div", { class: "filters" }, testButton, h("button", { type: "submit" }, "Create rule")));
  const list = h("div", { id: "rules" }, h("p", { class: "muted" }, "Loading…"));
  replace(main, h("h1", {}, "Rules"), problem, form, h("h2", {}, "Rules of this tenant"), list);

  // The sample of the test fields through SQL (`rule_test`) or through a stored rule (`rules/{id}/test`).
  const test = async (path, body, what) => {
    replace(output);
    try {
      const result = await api(path, { method: "POST", body: { ...body, context: { topic: topic.value, payload: payload.value } } });
      replace(output, h("p", { class: "notice" }, `${what} passes and outputs:`), h("pre", { id: "rule-result" }, JSON.stringify(result, null, 2)));
    } catch (error) {
      replace(output, error.code === "NOT_MATCH" ? h("p", { class: "notice" }, `No output: ${error.message}`) : errorBox(error));
    }
  };
  testButton.addEventListener("click", () => test("/api/v5/rule_test", { sql: sql.value }, "The rule"));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const named = sinks.value.split(",").map((a) => a.trim()).filter(Boolean);
    const actions = republish.value.trim()
      ? [{ function: "republish", args: { topic: republish.value.trim() } }, ...named]
      : named.length ? named : ["console"];
    const body = { sql: sql.value, actions, enable: true };
    if (id.value.trim()) body.id = id.value.trim();
    try {
      const created = await api("/api/v5/rules", { method: "POST", body });
      toast(`Rule ${created.id} created.`);
      replace(problem);
      load();
    } catch (error) {
      replace(problem, errorBox(error));
    }
  });

  const load = async () => {
    try {
      const body = await api("/api/v5/rules", { query: { limit: 100 } });
      if (!body.data.length) {
        replace(list, empty("No rules yet. Write one above, test it on a sample message, then create it."));
        return;
      }
      const metrics = await Promise.all(body.data.map((rule) => api(`/api/v5/rules/${encodeURIComponent(rule.id)}/metrics`).catch(() => null)));
      replace(list, h("div", { class: "table-wrap" }, h("table", { class: "list", id: "rule-table" },
        h("thead", {}, h("tr", {}, ["Id", "SQL", "Actions", "Matched", "Passed", "Enabled", "Actions"].map((c, i) => h("th", { scope: "col" }, i === 6 ? "" : c)))),
        h("tbody", {}, body.data.map((rule, i) => {
          const figures = (metrics[i] && metrics[i].metrics) || {};
          const toggle = async () => {
            try {
              await api(`/api/v5/rules/${encodeURIComponent(rule.id)}`, { method: "PUT", body: { enable: !rule.enable } });
              load();
            } catch (error) {
              replace(problem, errorBox(error));
            }
          };
          const remove = async () => {
            try {
              await api(`/api/v5/rules/${encodeURIComponent(rule.id)}`, { method: "DELETE" });
              toast(`Rule ${rule.id} deleted.`);
              load();
            } catch (error) {
              replace(problem, errorBox(error));
            }
          };
          return h("tr", { dataset: { id: rule.id } },
            h("td", { class: "mono" }, rule.id), h("td", {}, h("pre", {}, rule.sql)),
            h("td", { class: "mono" }, rule.actions.map((a) => (typeof a === "string" ? a : a.function)).join(", ")),
            h("td", {}, figures.matched ?? "—"), h("td", {}, figures.passed ?? "—"),
            h("td", {}, badge(rule.enable ? "enabled" : "disabled", rule.enable ? "ok" : "off")),
            h("td", { class: "actions" },
              h("button", { type: "button", class: "secondary", onclick: () => test(`/api/v5/rules/${encodeURIComponent(rule.id)}/test`, {}, `Rule ${rule.id}`), "aria-label": `Test rule ${rule.id} on the sample` }, "Test"),
              h("button", { type: "button", class: "secondary", onclick: toggle, "aria-label": `${rule.enable ? "Disable" : "Enable"} rule ${rule.id}` }, rule.enable ? "Disable" : "Enable"),
              h("button", { type: "button", class: "secondary", onclick: remove, "aria-label": `Delete rule ${rule.id}` }, "Delete")));
        })))));
    } catch (error) {
      replace(list, errorBox(error));
    }
  };
  await load();
}
