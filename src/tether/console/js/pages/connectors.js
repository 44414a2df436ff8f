// Connectors (EMQX 5 data integration over /api/v5): the tenant's connectors with their status and health
// reason, a form creating a webhook (an http connector and an action on it, named alike), delete; the
// actions with their metrics (GET /api/v5/actions/{id}/metrics). A rule sends to an action by its id.

import { api } from "../api.js";
import { badge, empty, errorBox, field, h, replace, toast } from "../dom.js";

const STATUS = { connected: "ok", connecting: "warn", disconnected: "bad" };

export async function render(main) {
  document.title = "Connectors · Tether";
  const problem = h("div", { "aria-live": "polite" });
  const name = h("input", { name: "connector-name", required: true, autocomplete: "off", placeholder: "e.g. my_hook" });
  const url = h("input", { name: "connector-url", type: "url", required: true, placeholder: "the receiver's http or https URL" });
  const path = h("input", { name: "action-path", placeholder: "e.g. /events/${clientid} (optional)" });
  const verify = h("select", { name: "tls-verify" },
    h("option", { value: "verify_peer" }, "Verify the server's certificate (system CAs)"),
    h("option", { value: "verify_none" }, "Do not verify (testing only)"));
  const form = h("form", { class: "card", "aria-labelledby": "h-webhook" },
    h("h2", { id: "h-webhook" }, "New webhook"),
    h("div", { class: "filters" }, field("Name", name), field("URL", url), field("Path template", path)),
    field("https", verify, "For https URLs; CA files and client certificates: PUT /api/v5/connectors/{id} with `ssl`."),
    h("div", { class: "filters" }, h("button", { type: "submit" }, "Create webhook")));
  const connectors = h("div", { id: "connectors" }, h("p", { class: "muted" }, "Loading…"));
  const actions = h("div", { id: "actions" }, h("p", { class: "muted" }, "Loading…"));
  replace(main, h("h1", {}, "Connectors"), problem, form,
    h("h2", {}, "Connectors of this tenant"), connectors, h("h2", {}, "Actions"), actions);

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const connector = { type: "http", name: name.value.trim(), url: url.value.trim() };
    if (connector.url.startsWith("https:")) connector.ssl = { enable: true, verify: verify.value };
    try {
      await api("/api/v5/connectors", { method: "POST", body: connector });
      const parameters = path.value.trim() ? { path: path.value.trim() } : {};
      await api("/api/v5/actions", { method: "POST", body: { type: "http", name: connector.name, connector: connector.name, parameters } });
      toast(`Webhook http:${connector.name} created: name it in a rule's actions.`);
      replace(problem);
      form.reset();
      load();
    } catch (error) {
      replace(problem, errorBox(error));
    }
  });

  const act = async (request, done) => {
    try {
      await request();
      toast(done);
      replace(problem);
      load();
    } catch (error) {
      replace(problem, errorBox(error));
    }
  };

  const load = async () => {
    try {
      const [found, actionList] = await Promise.all([api("/api/v5/connectors"), api("/api/v5/actions")]);
      if (!found.length) {
        replace(connectors, empty("No connectors yet. Create a webhook above."));
      } else {
        replace(connectors, h("div", { class: "table-wrap" }, h("table", { class: "list", id: "connector-table" },
          h("thead", {}, h("tr", {}, ["Id", "Server", "Status", "Reason", ""].map((c) => h("th", { scope: "col" }, c)))),
          h("tbody", {}, found.map((c) => {
            const id = `${c.type}:${c.name}`;
            const used = actionList.filter((a) => a.type === c.type && a.connector === c.name);
            const remove = () => act(async () => {
              for (const a of used) await api(`/api/v5/actions/${encodeURIComponent(`${a.type}:${a.name}`)}`, { method: "DELETE" });
              await api(`/api/v5/connectors/${encodeURIComponent(id)}`, { method: "DELETE" });
            }, `Connector ${id} deleted.`);
            const check = () => act(() => api(`/api/v5/connectors/${encodeURIComponent(id)}/start`, { method: "POST" }), `Connector ${id} checked.`);
            return h("tr", { dataset: { id } },
              h("td", { class: "mono" }, id), h("td", { class: "mono" }, c.url || c.server || ""),
              h("td", {}, badge(c.status, STATUS[c.status] || "off")), h("td", {}, c.status_reason || ""),
              h("td", { class: "actions" },
                h("button", { type: "button", class: "secondary", onclick: check, "aria-label": `Check connector ${id}` }, "Check"),
                h("button", { type: "button", class: "secondary", onclick: remove, "aria-label": `Delete connector ${id}` }, "Delete")));
          })))));
      }
      if (!actionList.length) {
        replace(actions, empty("No actions yet."));
        return;
      }
      const metrics = await Promise.all(actionList.map((a) => api(`/api/v5/actions/${encodeURIComponent(`${a.type}:${a.name}`)}/metrics`).catch(() => null)));
      const columns = ["matched", "success", "failed", "dropped", "queuing", "retried"];
      replace(actions, h("div", { class: "table-wrap" }, h("table", { class: "list", id: "action-table" },
        h("thead", {}, h("tr", {}, ["Id", "Connector", "Status", ...columns.map((c) => c[0].toUpperCase() + c.slice(1)), "Rules"].map((c) => h("th", { scope: "col" }, c)))),
        h("tbody", {}, actionList.map((a, i) => {
          const figures = (metrics[i] && metrics[i].metrics) || {};
          return h("tr", { dataset: { id: `${a.type}:${a.name}` } },
            h("td", { class: "mono" }, `${a.type}:${a.name}`), h("td", { class: "mono" }, a.connector),
            h("td", {}, badge(a.status || "—", STATUS[a.status] || "off")),
            ...columns.map((c) => h("td", {}, figures[c] ?? "—")),
            h("td", { class: "mono" }, (a.rules || []).join(", ")));
        })))));
    } catch (error) {
      replace(connectors, errorBox(error));
    }
  };
  await load();
}
