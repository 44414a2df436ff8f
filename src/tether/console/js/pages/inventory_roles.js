// Inventory roles (Cumulocity /user/inventoryroles and /user/{t}/users/{u}/roles/inventory): which person holds
// which role on which device group. A role on a group opens the group, its devices and their children, in the
// role's scopes, to a person without the global roles. Assign one, remove one. Device users hold none.

import { api, may } from "../api.js";
import { empty, errorBox, field, h, replace, toast, writeButton } from "../dom.js";

export async function render(main) {
  document.title = "Inventory roles · Tether";
  const write = may("USER_MANAGEMENT", true);
  const problem = h("div", { "aria-live": "polite" });
  const list = h("div", { id: "assignments" }, h("p", { class: "muted" }, "Loading…"));
  const who = h("select", { name: "assign-user" });
  const where = h("select", { name: "assign-group" });
  const what = h("select", { name: "assign-role" });
  const assignForm = h("form", { class: "card", "aria-labelledby": "h-assign" }, h("h2", { id: "h-assign" }, "Inventory role on a device group"),
    h("div", { class: "filters" }, field("User", who), field("Device group", where, "The group, its devices and their children"), field("Inventory role", what)),
    h("button", { type: "submit" }, "Assign role"));
  replace(main, h("h1", {}, "Inventory roles"), problem, write ? assignForm : null, h("h2", {}, "Assignments"), list);

  let base;
  try {
    const tenant = (await api("/tenant/currentTenant")).name;
    base = `/user/${encodeURIComponent(tenant)}/users`;
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

  const act = (work, done) => async () => {
    try {
      await work();
      toast(done);
      replace(problem);
      await load();
    } catch (error) {
      replace(problem, errorBox(error));
    }
  };

  const load = async () => {
    try {
      const body = await api(base, { query: { pageSize: 100, withSubusersCount: false } });
      const people = body.users.filter((u) => !u.userName.startsWith("device_"));
      const selected = who.value;
      replace(who, ...people.map((u) => h("option", { value: u.userName }, u.userName)));
      if (selected) who.value = selected;
      if (!people.length) return replace(list, empty("No users yet. Create one on the Users page, then assign it a role here."));
      const assigned = await Promise.all(people.map((u) =>
        api(`${base}/${encodeURIComponent(u.userName)}/roles/inventory`).then((b) => b.inventoryAssignments, () => [])));
      replace(list, h("div", { class: "table-wrap" }, h("table", { class: "list", id: "assignment-table" },
        h("thead", {}, h("tr", {}, ["User", "Inventory roles"].map((c) => h("th", { scope: "col" }, c)))),
        h("tbody", {}, people.map((u, i) => {
          const path = `${base}/${encodeURIComponent(u.userName)}/roles/inventory`;
          const held = assigned[i].map((a) => h("span", { class: "assignment" },
            `${a.roles.map((r) => r.name).join(", ")} on ${a.managedObject} `,
            writeButton(write, { class: "secondary", "aria-label": `Remove assignment ${a.id} of ${u.userName}`,
              onclick: act(() => api(`${path}/${a.id}`, { method: "DELETE" }), "Inventory role removed.") }, "×")));
          return h("tr", { dataset: { user: u.userName } }, h("td", {}, u.userName), h("td", {}, held.length ? held : "—"));
        })))));
    } catch (error) {
      replace(list, errorBox(error));
    }
  };

  assignForm.addEventListener("submit", (event) => {
    event.preventDefault();
    act(() => api(`${base}/${encodeURIComponent(who.value)}/roles/inventory`, {
      method: "POST", body: { managedObject: where.value, roles: [{ id: Number(what.value) }] } }), "Inventory role assigned.")();
  });
  await load();
}
