// Groups of the tenant and their global roles (Cumulocity /user/{tenant}/groups, /user/roles): list, create,
// delete (confirmed), and tick the roles a group grants its members. A user's rights are its groups' roles;
// the server lets an administrator grant only roles it holds itself.

import { api, may } from "../api.js";
import { confirmIn, empty, errorBox, field, h, replace, table, toast, writeButton } from "../dom.js";

export async function render(main) {
  document.title = "Groups & roles · Tether";
  const write = may("USER_MANAGEMENT", true);
  const problem = h("div", { "aria-live": "polite" });
  const list = h("div", { id: "groups" }, h("p", { class: "muted" }, "Loading…"));
  replace(main, h("h1", {}, "Groups & roles"), problem);

  let tenant;
  let roles;
  try {
    tenant = (await api("/tenant/currentTenant")).name;
    roles = (await api("/user/roles", { query: { pageSize: 100 } })).roles;
  } catch (error) {
    replace(list, errorBox(error));
    main.append(list);
    return;
  }
  const base = `/user/${encodeURIComponent(tenant)}/groups`;
  let opened = null;
  const act = (work, done) => async () => {
    try {
      await work();
      toast(done);
      replace(problem);
      await load();
    } catch (error) {
      replace(problem, errorBox(error));
      await load();
    }
  };

  // The roles of one group as checkboxes: ticking grants, unticking withdraws (each a call of its own).
  const roleEditor = (g) => {
    const held = new Set(((g.roles && g.roles.references) || []).map((r) => r.role.id));
    const boxes = roles.map((role) => {
      const box = h("input", { type: "checkbox", name: "group-role", value: role.id, checked: held.has(role.id), disabled: !write,
        onchange: () => act(() => box.checked
          ? api(`${base}/${g.id}/roles`, { method: "POST", body: { role: { self: role.self } } })
          : api(`${base}/${g.id}/roles/${encodeURIComponent(role.id)}`, { method: "DELETE" }),
        `${role.id} ${box.checked ? "granted to" : "withdrawn from"} ${g.name}.`)() });
      return h("label", { class: "check", title: role.description }, box, role.id);
    });
    return h("fieldset", { class: "picker", id: "group-roles" }, h("legend", {}, `Global roles of ${g.name}`), h("div", { class: "roles-grid" }, boxes));
  };

  const load = async () => {
    try {
      const body = await api(base, { query: { pageSize: 100 } });
      if (!body.groups.length) return replace(list, empty("No groups. Create one above, then tick the roles its members get."));
      replace(list, table(["Group", "Description", "Roles", "Actions"], body.groups.flatMap((g) => {
        const open = opened === g.id;
        const confirmBox = h("div");
        const count = ((g.roles && g.roles.references) || []).length;
        const tr = h("tr", { dataset: { group: g.name } }, h("td", {}, g.name), h("td", { class: "wrap" }, g.description || "—"),
          h("td", {}, `${count} of ${roles.length}`),
          h("td", { class: "actions" },
            h("button", { type: "button", class: "secondary", "aria-expanded": open ? "true" : "false", "aria-label": `Roles of ${g.name}`, onclick: () => {
              opened = open ? null : g.id;
              load();
            } }, "Roles"),
            writeButton(write, { class: "secondary danger", "aria-label": `Delete group ${g.name}`, onclick: () =>
              confirmIn(confirmBox, `Delete the group ${g.name}? Its members lose its roles.`, `Delete ${g.name} for good`,
                act(() => api(`${base}/${g.id}`, { method: "DELETE" }), `Group ${g.name} deleted.`)) }, "Delete"),
            confirmBox));
        return open ? [tr, h("tr", { class: "details" }, h("td", { colspan: 4 }, roleEditor(g)))] : [tr];
      }), "group-table"));
    } catch (error) {
      replace(list, errorBox(error));
    }
  };

  if (write) {
    const name = h("input", { name: "group-name", required: true, autocomplete: "off" });
    const description = h("input", { name: "group-description", autocomplete: "off" });
    const form = h("form", { class: "card", "aria-labelledby": "h-new-group" }, h("h2", { id: "h-new-group" }, "New group"),
      h("div", { class: "filters" }, field("Name", name), field("Description", description)), h("button", { type: "submit" }, "Create group"));
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const body = { name: name.value.trim() };
      if (description.value.trim()) body.description = description.value.trim();
      try {
        const created = await api(base, { method: "POST", body });
        opened = created.id;
        toast(`Group ${created.name} created: tick its roles below.`);
        form.reset();
        replace(problem);
        load();
      } catch (error) {
        replace(problem, errorBox(error));
      }
    });
    main.append(form);
  }
  main.append(h("h2", {}, "Groups of this tenant"), list);
  await load();
}
