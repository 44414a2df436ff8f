// Users of the tenant (Cumulocity /user): server-paged list with a name search; create one in a group; edit
// its details, set its password, add it to or remove it from groups; enable or disable; delete (confirmed).
// Device users carry a badge and are retired from their device's page. Who may only read
// (ROLE_USER_MANAGEMENT_READ) sees the list without the forms, and disabled actions.

import { api, may } from "../api.js";
import { badge, confirmIn, empty, errorBox, field, h, pager, replace, table, toast, writeButton } from "../dom.js";

const PAGE_SIZE = 20;

export async function render(main) {
  document.title = "Users · Tether";
  const write = may("USER_MANAGEMENT", true);
  const problem = h("div", { "aria-live": "polite" });
  const list = h("div", { id: "users" }, h("p", { class: "muted" }, "Loading…"));
  const search = h("input", { name: "user-search", type: "search", autocomplete: "off", placeholder: "Name starts with…" });
  const searchForm = h("form", { class: "filters", role: "search" }, field("Find users", search),
    h("div", { class: "field actions" }, h("button", { type: "submit", class: "secondary" }, "Search")));
  replace(main, h("h1", {}, "Users"), problem, list);

  let tenant;
  let groups = [];
  try {
    tenant = (await api("/tenant/currentTenant")).name;
    groups = (await api(`/user/${encodeURIComponent(tenant)}/groups`, { query: { pageSize: 100 } })).groups;
  } catch (error) {
    replace(list, errorBox(error));
    return;
  }
  const base = `/user/${encodeURIComponent(tenant)}`;
  const userPath = (name) => `${base}/users/${encodeURIComponent(name)}`;
  const groupOptions = (first) => [h("option", { value: "" }, first), groups.map((g) => h("option", { value: g.id }, g.name))];
  const join = (groupId, name) => api(`${base}/groups/${groupId}/users`, { method: "POST", body: { user: { self: userPath(name) } } });

  let page = 1;
  let opened = null;
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

  // The details of one user: its fields, a new password, and group membership.
  const editor = (u) => {
    const inputs = {
      email: h("input", { name: "edit-email", type: "email", value: u.email || "" }),
      firstName: h("input", { name: "edit-first-name", value: u.firstName || "" }),
      lastName: h("input", { name: "edit-last-name", value: u.lastName || "" }),
      phone: h("input", { name: "edit-phone", type: "tel", value: u.phone || "" }),
    };
    const details = h("form", { class: "filters", "aria-label": `Details of ${u.userName}` },
      field("Email", inputs.email), field("First name", inputs.firstName), field("Last name", inputs.lastName), field("Phone", inputs.phone),
      h("div", { class: "field actions" }, h("button", { type: "submit" }, "Save details")));
    details.addEventListener("submit", (event) => {
      event.preventDefault();
      const body = Object.fromEntries(Object.entries(inputs).map(([k, el]) => [k, el.value.trim() || null]));
      act(() => api(userPath(u.userName), { method: "PUT", body }), `${u.userName} saved.`)();
    });
    const password = h("input", { name: "new-password", type: "password", required: true, autocomplete: "new-password" });
    const passwordForm = h("form", { class: "filters", "aria-label": `Password of ${u.userName}` }, field("New password", password, "At least 8 characters"),
      h("div", { class: "field actions" }, h("button", { type: "submit" }, "Set password")));
    passwordForm.addEventListener("submit", (event) => {
      event.preventDefault();
      act(() => api(`${userPath(u.userName)}/password`, { method: "PUT", body: { newPassword: password.value } }), `Password of ${u.userName} set.`)();
    });
    const mine = new Set(((u.groups && u.groups.references) || []).map((r) => String(r.group.id)));
    const group = h("select", { name: "add-group" }, groupOptions("Choose a group"));
    for (const option of group.options) if (mine.has(option.value)) option.disabled = true;
    const groupForm = h("form", { class: "filters", "aria-label": `Groups of ${u.userName}` }, field("Add to group", group),
      h("div", { class: "field actions" }, h("button", { type: "submit" }, "Add to group")));
    groupForm.addEventListener("submit", (event) => {
      event.preventDefault();
      if (!group.value) return;
      const name = group.selectedOptions[0].textContent;
      act(() => join(group.value, u.userName), `${u.userName} added to ${name}.`)();
    });
    return h("div", { class: "subs", id: "user-editor" }, h("h3", {}, `Edit ${u.userName}`), details, passwordForm, groupForm);
  };

  const row = (u) => {
    const device = u.userName.startsWith("device_");
    const path = userPath(u.userName);
    const confirmBox = h("div");
    const refs = (u.groups && u.groups.references) || [];
    const chips = refs.length ? h("span", { class: "chips" }, refs.map((r) => h("span", { class: "chip" }, r.group.name,
      write && !device ? h("button", { type: "button", "aria-label": `Remove ${u.userName} from ${r.group.name}`,
        onclick: act(() => api(`${base}/groups/${r.group.id}/users/${encodeURIComponent(u.userName)}`, { method: "DELETE" }), `${u.userName} removed from ${r.group.name}.`) }, "×") : null))) : "—";
    const open = opened === u.userName;
    const actions = device ? [h("span", { class: "muted" }, "Retire it on its device")] : [
      writeButton(write, { "aria-expanded": open ? "true" : "false", "aria-label": `Edit ${u.userName}`, onclick: () => {
        opened = open ? null : u.userName;
        load();
      } }, "Edit"),
      writeButton(write, { "aria-label": `${u.enabled ? "Disable" : "Enable"} ${u.userName}`,
        onclick: act(() => api(path, { method: "PUT", body: { enabled: !u.enabled } }), `${u.userName} ${u.enabled ? "disabled" : "enabled"}.`) }, u.enabled ? "Disable" : "Enable"),
      writeButton(write, { class: "secondary danger", "aria-label": `Delete ${u.userName}`, onclick: () =>
        confirmIn(confirmBox, `Delete ${u.userName}? It cannot log in again.`, `Delete ${u.userName} for good`,
          act(() => api(path, { method: "DELETE" }), `${u.userName} deleted.`)) }, "Delete"),
    ];
    const tr = h("tr", { dataset: { user: u.userName } },
      h("td", {}, u.userName, device ? [" ", badge("device", "info")] : null), h("td", { class: "wrap" }, u.email || "—"), h("td", {}, chips),
      h("td", {}, badge(u.enabled ? "enabled" : "disabled", u.enabled ? "ok" : "off")),
      h("td", { class: "actions" }, actions, confirmBox));
    return open ? [tr, h("tr", { class: "details" }, h("td", { colspan: 5 }, editor(u)))] : [tr];
  };

  const load = async () => {
    try {
      const body = await api(`${base}/users`, { query: { pageSize: PAGE_SIZE, currentPage: page, withTotalPages: true, withTotalElements: true, username: search.value.trim() } });
      if (!body.users.length && page > 1) {
        page -= 1;
        return load();
      }
      if (!body.users.length) {
        return replace(list, searchForm, empty(search.value ? "No user's name starts so. Clear the search to see them all." : "No users. Create one above and put it in a group to give it rights."));
      }
      replace(list, searchForm, table(["User", "Email", "Groups", "Status", "Actions"], body.users.flatMap(row), "user-table"),
        pager(page, body.statistics, "users", (to) => {
          page = to;
          load();
        }));
    } catch (error) {
      replace(list, errorBox(error));
    }
  };
  searchForm.addEventListener("submit", (event) => {
    event.preventDefault();
    page = 1;
    load();
  });

  if (write) {
    const name = h("input", { name: "user-name", required: true, autocomplete: "off" });
    const password = h("input", { name: "user-password", type: "password", required: true, autocomplete: "new-password" });
    const email = h("input", { name: "user-email", type: "email", autocomplete: "off" });
    const group = h("select", { name: "user-group" }, groupOptions("No group (no rights)"));
    const form = h("form", { class: "card", "aria-labelledby": "h-new-user" }, h("h2", { id: "h-new-user" }, "New user"),
      h("div", { class: "filters" }, field("User name", name), field("Password", password), field("Email", email), field("Group", group, "Its roles are the user's")),
      h("button", { type: "submit" }, "Create user"));
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const body = { userName: name.value.trim(), password: password.value, enabled: true };
      if (email.value.trim()) body.email = email.value.trim();
      try {
        const created = await api(`${base}/users`, { method: "POST", body });
        if (group.value) await join(group.value, created.userName);
        toast(`User ${created.userName} created.`);
        form.reset();
        replace(problem);
        load();
      } catch (error) {
        replace(problem, errorBox(error));
      }
    });
    main.insertBefore(form, list);
  } else {
    main.insertBefore(h("p", { class: "notice" }, "You may read the users; changing them takes ROLE_USER_MANAGEMENT_ADMIN."), list);
  }
  main.insertBefore(h("h2", {}, "Users of this tenant"), list);
  await load();
}
