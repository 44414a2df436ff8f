// Tenants (Cumulocity /tenant/tenants, the management tenant's): server-paged list, create one with its first
// administrator, suspend or reactivate, delete with all its data (confirmed). Tenant options (/tenant/options):
// list, create, edit the value, delete; a `credentials.` key's value is stored encrypted and shown as
// <<Encrypted>>. Each section shows when the roles read it (TENANT_MANAGEMENT, OPTION_MANAGEMENT).

import { api, may } from "../api.js";
import { badge, confirmIn, empty, errorBox, field, h, pager, replace, table, timeEl, toast, writeButton } from "../dom.js";

const PAGE_SIZE = 20;

function section(id, title, ...content) {
  return h("section", { "aria-labelledby": id }, h("h2", { id }, title), ...content);
}

function tenantsSection(problem, own) {
  const write = may("TENANT_MANAGEMENT", true);
  const list = h("div", { id: "tenants" }, h("p", { class: "muted" }, "Loading…"));
  let page = 1;
  const act = (work, done) => async () => {
    try {
      await work();
      toast(done);
      replace(problem);
    } catch (error) {
      replace(problem, errorBox(error));
    }
    await load();
  };
  const load = async () => {
    try {
      const body = await api("/tenant/tenants", { query: { pageSize: PAGE_SIZE, currentPage: page, withTotalPages: true, withTotalElements: true } });
      if (!body.tenants.length) return replace(list, empty("No tenants yet. Create one above with its first administrator."));
      replace(list, table(["Tenant", "Domain", "Company", "Administrator", "Status", "Created", "Actions"], body.tenants.map((t) => {
        const active = t.status === "ACTIVE";
        const confirmBox = h("div");
        const mine = t.id === own; // the management tenant itself is neither suspended nor deleted
        return h("tr", { dataset: { tenant: t.id } }, h("td", { class: "mono" }, t.id), h("td", { class: "wrap" }, t.domain), h("td", {}, t.company || "—"),
          h("td", {}, t.adminName || "—"), h("td", {}, badge(t.status.toLowerCase(), active ? "ok" : "off")), h("td", {}, timeEl(t.creationTime)),
          h("td", { class: "actions" },
            writeButton(write && !mine, { why: mine ? "Your own tenant" : null, "aria-label": `${active ? "Suspend" : "Reactivate"} ${t.id}`,
              onclick: act(() => api(`/tenant/tenants/${encodeURIComponent(t.id)}`, { method: "PUT", body: { status: active ? "SUSPENDED" : "ACTIVE" } }),
                `Tenant ${t.id} ${active ? "suspended: its users and devices are logged out" : "reactivated"}.`) }, active ? "Suspend" : "Reactivate"),
            writeButton(write && !mine, { why: mine ? "Your own tenant" : null, class: "secondary danger", "aria-label": `Delete ${t.id}`, onclick: () =>
              confirmIn(confirmBox, `Delete tenant ${t.id} with all its devices, data and users? This cannot be undone.`, `Delete ${t.id} for good`,
                act(() => api(`/tenant/tenants/${encodeURIComponent(t.id)}`, { method: "DELETE" }), `Tenant ${t.id} deleted.`)) }, "Delete"),
            confirmBox));
      }), "tenant-table"), pager(page, body.statistics, "tenants", (to) => {
        page = to;
        load();
      }));
    } catch (error) {
      replace(list, errorBox(error));
    }
  };
  const parts = [];
  if (write) {
    const inputs = {
      domain: h("input", { name: "tenant-domain", required: true, autocomplete: "off", placeholder: "acme.example.com" }),
      company: h("input", { name: "tenant-company", autocomplete: "off" }),
      id: h("input", { name: "tenant-id", autocomplete: "off", pattern: "[a-z][a-z0-9_-]{1,31}" }),
      adminName: h("input", { name: "tenant-admin", required: true, autocomplete: "off" }),
      adminPass: h("input", { name: "tenant-admin-password", type: "password", required: true, autocomplete: "new-password" }),
      adminEmail: h("input", { name: "tenant-admin-email", type: "email", autocomplete: "off" }),
    };
    const form = h("form", { class: "card", "aria-labelledby": "h-new-tenant" }, h("h3", { id: "h-new-tenant" }, "New tenant"),
      h("div", { class: "filters" }, field("Domain", inputs.domain), field("Company", inputs.company), field("Tenant id", inputs.id, "Optional: generated when empty"),
        field("First administrator", inputs.adminName), field("Its password", inputs.adminPass), field("Its email", inputs.adminEmail)),
      h("button", { type: "submit" }, "Create tenant"));
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const body = Object.fromEntries(Object.entries(inputs).map(([k, el]) => [k, el.value.trim()]).filter(([k, v]) => v || k === "adminPass"));
      body.adminPass = inputs.adminPass.value;
      try {
        const created = await api("/tenant/tenants", { method: "POST", body });
        toast(`Tenant ${created.id} created: its administrator logs in as ${created.id}/${body.adminName}.`);
        form.reset();
        replace(problem);
        page = 1;
        load();
      } catch (error) {
        replace(problem, errorBox(error));
      }
    });
    parts.push(form);
  }
  return [section("h-tenants", "Tenants", ...parts, list), load];
}

function optionsSection(problem) {
  const write = may("OPTION_MANAGEMENT", true);
  const list = h("div", { id: "options" }, h("p", { class: "muted" }, "Loading…"));
  let page = 1;
  let editing = null;
  const path = (o) => `/tenant/options/${encodeURIComponent(o.category)}/${encodeURIComponent(o.key)}`;
  const act = (work, done) => async () => {
    try {
      await work();
      toast(done);
      replace(problem);
      editing = null;
    } catch (error) {
      replace(problem, errorBox(error));
    }
    await load();
  };
  const row = (o) => {
    const name = `${o.category}.${o.key}`;
    const confirmBox = h("div");
    if (editing === name) {
      const secret = o.key.startsWith("credentials.");
      const value = h("input", { name: "option-new-value", type: secret ? "password" : "text", value: secret ? "" : o.value, autocomplete: "off", "aria-label": `New value of ${name}` });
      const save = act(() => api(path(o), { method: "PUT", body: { value: value.value } }), `${name} saved.`);
      value.addEventListener("keydown", (event) => {
        if (event.key === "Enter") save();
        if (event.key === "Escape") {
          editing = null;
          load();
        }
      });
      queueMicrotask(() => value.focus());
      return h("tr", { dataset: { option: name } }, h("td", { class: "mono" }, o.category), h("td", { class: "mono" }, o.key), h("td", {}, value),
        h("td", { class: "actions" }, h("button", { type: "button", "aria-label": `Save ${name}`, onclick: save }, "Save"),
          h("button", { type: "button", class: "secondary", onclick: () => {
            editing = null;
            load();
          } }, "Cancel")));
    }
    return h("tr", { dataset: { option: name } }, h("td", { class: "mono" }, o.category), h("td", { class: "mono" }, o.key),
      h("td", { class: "mono wrap" }, o.value === "<<Encrypted>>" ? badge("<<Encrypted>>", "info") : o.value),
      h("td", { class: "actions" },
        writeButton(write, { "aria-label": `Edit ${name}`, onclick: () => {
          editing = name;
          load();
        } }, "Edit"),
        writeButton(write, { class: "secondary danger", "aria-label": `Delete ${name}`, onclick: () =>
          confirmIn(confirmBox, `Delete the option ${name}?`, `Delete ${name}`, act(() => api(path(o), { method: "DELETE" }), `${name} deleted.`)) }, "Delete"),
        confirmBox));
  };
  const load = async () => {
    try {
      const body = await api("/tenant/options", { query: { pageSize: PAGE_SIZE, currentPage: page, withTotalPages: true, withTotalElements: true } });
      if (!body.options.length && page > 1) {
        page -= 1;
        return load();
      }
      if (!body.options.length) return replace(list, empty("No tenant options. Add one above (category, key, value)."));
      replace(list, table(["Category", "Key", "Value", "Actions"], body.options.map(row), "option-table"), pager(page, body.statistics, "options", (to) => {
        page = to;
        load();
      }));
    } catch (error) {
      replace(list, errorBox(error));
    }
  };
  const parts = [];
  if (write) {
    const category = h("input", { name: "option-category", required: true, autocomplete: "off" });
    const key = h("input", { name: "option-key", required: true, autocomplete: "off" });
    const value = h("input", { name: "option-value", autocomplete: "off" });
    const form = h("form", { class: "filters", "aria-label": "New option" }, field("Category", category), field("Key", key, "credentials.… keeps the value encrypted"), field("Value", value),
      h("div", { class: "field actions" }, h("button", { type: "submit" }, "Add option")));
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      try {
        const created = await api("/tenant/options", { method: "POST", body: { category: category.value.trim(), key: key.value.trim(), value: value.value } });
        toast(`Option ${created.category}.${created.key} saved.`);
        form.reset();
        replace(problem);
        load();
      } catch (error) {
        replace(problem, errorBox(error));
      }
    });
    parts.push(form);
  }
  return [section("h-options", "Tenant options", ...parts, list), load];
}

export async function render(main) {
  document.title = "Tenants & options · Tether";
  const problem = h("div", { "aria-live": "polite" });
  replace(main, h("h1", {}, "Tenants & options"), problem);
  let own = null;
  try {
    own = (await api("/tenant/currentTenant")).name;
  } catch (error) {
    replace(problem, errorBox(error));
  }
  const loads = [];
  for (const [family, make] of [["TENANT_MANAGEMENT", tenantsSection], ["OPTION_MANAGEMENT", optionsSection]]) {
    if (!may(family)) continue;
    const [el, load] = make(problem, own);
    main.append(el);
    loads.push(load());
  }
  await Promise.all(loads);
}
