// Users of the tenant (Cumulocity /user): list with their groups and inventory roles, create one in a group,
// enable or disable, delete; assign an inventory role on a device group (/user/{t}/users/{u}/roles/inventory)
// or remove it. Device users are listed on their devices, not here (onlyDevices=false).

import { api } from "../api.js";
import { badge, empty, errorBox, field, h, replace, toast } from "../dom.js";

export async function render(main) {
  document.title = "Users · Tether";
  const problem = h("div", { "aria-live": "polite" });
  const list = h("div", { id: "users" }, h("p", { class: "muted" }, "Loading…"));
  const name = h("input", { name: "user-name", required: true, autocomplete: "off" });
  const password = h("input", { name: "user-password", type: "password", required: true, autocomplete: "new-password" });
  const email = h("input", { name: "user-email", type: "email", autocomplete: "off" });
  const group = h("select", { name: "user-group" }, h("option", { value: "" }, "No group (no rights)"));
  const form = h("form", { class: "card", "aria-labelledby": "h-new-user" }, h("h2", { id: "h-new-user" }, "New user"),
    h("div", { class: "filters" }, field("User name", name), field("Password", password), field("Email", email), field("Group", group, "Its roles are the user's")),
    h("button", { type: "submit" }, "Create user"));
  const who = h("select", { name: "assign-user" });
  const where = h("select", { name: "assign-group" });
  const what = h("select", { name: "assign-role" });
  const assignForm = h("form", { class: "card", "aria-labelledby": "h-assign" }, h("h2", { id: "h-assign" }, "Inventory role on a device group"),
    h("div", { class: "filters" }, field("User", who), field("Device group", where, "The group, its devices and their children"), field("Inventory role", what)),
    h("button", { type: "submit" }, "Assign role"));
  replace(main, h("h1", {}, "Users"), problem, form, assignForm, h("h2", {}, "Users of this tenant"), list);

  let tenant;
  try {
    tenant = (await api("/tenant/currentTenant")).name;
    const groups = await api(`/user/${encodeURIComponent(tenant)}/groups`, { query: { pageSize: 100 } });
    for (const g of groups.groups) group.append(h("option", { value: g.id }, g.name));
    const [deviceGroups, roles] = await Promise.all([
      api("/inventory/managedObjects", { query: { fragmentType: "c8y_IsDeviceGroup", pageSize: 100 } }),
      api("/user/inventoryroles", { query: { pageSize: 100 } }),
    ]);
    replace(where, ...deviceGroups.managedObjects.map((g) => h("option", { value: g.id }, g.name || g.id)));
    replace(what, ...roles.roles.map((r) => h("option", { value: r.id }, r.name)));
  } catch (error) {
    replace(list, errorBox(error));
    return;
  }
  const base = `/user/${encodeURIComponent(tenant)}/users`;
  const load = async () => {
    try {
      const body = await api(base, { query: { pageSize: 100, withSubusersCount: false } });
      const people = body.users.filter((u) => !u.userName.startsWith("device_"));
      const selected = who.value;
      replace(who, ...people.map((u) => h("option", { value: u.userName }, u.userName)));
      if (selected) who.value = selected;
      if (!people.length) return replace(list, empty("No users. Create one above and put it in a group to give it rights."));
      const assigned = await Promise.all(people.map((u) =>
        api(`${base}/${encodeURIComponent(u.userName)}/roles/inventory`).then((b) => b.inventoryAssignments, () => [])));
      replace(list, h("div", { class: "table-wrap" }, h("table", { class: "list", id: "user-table" },
        h("thead", {}, h("tr", {}, ["User", "Email", "Groups", "Inventory roles", "Status", "Actions"].map((c) => h("th", { scope: "col" }, c)))),
        h("tbody", {}, people.map((u, i) => {
          const groups = ((u.groups && u.groups.references) || []).map((r) => r.group.name).join(", ");
          const act = (work, done) => async () => {
            try {
              await work();
              toast(done);
              replace(problem);
              load();
            } catch (error) {
              replace(problem, errorBox(error));
            }
          };
          const path = `${base}/${encodeURIComponent(u.userName)}`;
          const inventory = assigned[i].map((a) => h("span", { class: "assignment" },
            `${a.roles.map((r) => r.name).join(", ")} on ${a.managedObject} `,
            h("button", { type: "button", class: "secondary", "aria-label": `Remove assignment ${a.id} of ${u.userName}`,
              onclick: act(() => api(`${path}/roles/inventory/${a.id}`, { method: "DELETE" }), "Inventory role removed.") }, "×")));
          return h("tr", { dataset: { user: u.userName } },
            h("td", {}, u.userName), h("td", {}, u.email || "—"), h("td", {}, groups || "—"),
            h("td", {}, inventory.length ? inventory : "—"),
            h("td", {}, badge(u.enabled ? "enabled" : "disabled", u.enabled ? "ok" : "off")),
            h("td", { class: "actions" },
              h("button", { type: "button", class: "secondary", "aria-label": `${u.enabled ? "Disable" : "Enable"} ${u.userName}`,
                onclick: act(() => api(path, { method: "PUT", body: { enabled: !u.enabled } }), `${u.userName} ${u.enabled ? "disabled" : "enabled"}.`) }, u.enabled ? "Disable" : "Enable"),
              h("button", { type: "button", class: "secondary", "aria-label": `Delete ${u.userName}`,
                onclick: act(() => api(path, { method: "DELETE" }), `${u.userName} deleted.`) }, "Delete")));
        })))));
    } catch (error) {
      replace(list, errorBox(error));
    }
  };
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const body = { userName: name.value.trim(), password: password.value, enabled: true };
    if (email.value.trim()) body.email = email.value.trim();
    try {
      const created = await api(base, { method: "POST", body });
      if (group.value) {
        await api(`/user/${encodeURIComponent(tenant)}/groups/${group.value}/users`, { method: "POST", body: { user: { self: created.self } } });
      }
      toast(`User ${created.userName} created.`);
      form.reset();
      replace(problem);
      load();
    } catch (error) {
      replace(problem, errorBox(error));
    }
  });
  assignForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    try {
      await api(`${base}/${encodeURIComponent(who.value)}/roles/inventory`, {
        method: "POST", body: { managedObject: where.value, roles: [{ id: Number(what.value) }] } });
      toast("Inventory role assigned.");
      replace(problem);
      load();
    } catch (error) {
      replace(problem, errorBox(error));
    }
  });
  await load();
}
