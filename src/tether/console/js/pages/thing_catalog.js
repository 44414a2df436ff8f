// EMQX Fleets thing groups and thing types (/api/v1/thing-groups, /api/v1/thing-types): both lists paged on
// the server, create, delete; a group's page lists its things (paged) and adds or removes one.

import { api } from "../api.js";
import { empty, errorBox, field, h, replace, timeEl, toast } from "../dom.js";
import { fleetsNav, pager, splitNames, table } from "./fleets_common.js";

const LIMIT = 20;

export async function render(main, { params, query, navigate, alive }) {
  if (params[0]) return groupPage(main, decodeURIComponent(params[0]), query, navigate, alive);
  document.title = "Thing types and groups · Tether";
  const problem = h("div", { "aria-live": "polite" });
  const groups = h("div", { id: "groups" }, h("p", { class: "muted" }, "Loading…"));
  const types = h("div", { id: "types" }, h("p", { class: "muted" }, "Loading…"));
  const pages = { gpage: Math.max(1, Number(query.get("gpage")) || 1), tpage: Math.max(1, Number(query.get("tpage")) || 1) };
  const go = (key, value) => {
    const p = new URLSearchParams({ ...pages, [key]: value });
    navigate(`/ui/thing-groups?${p}`);
  };

  const groupName = h("input", { name: "new-group", required: true, autocomplete: "off", maxlength: 128 });
  const groupText = h("input", { name: "new-group-description", autocomplete: "off" });
  const groupForm = h("form", { class: "filters card", "aria-label": "New thing group" },
    field("New group name", groupName), field("Description", groupText),
    h("div", { class: "field actions" }, h("button", { type: "submit" }, "Create group")));
  const typeName = h("input", { name: "new-type", required: true, autocomplete: "off", pattern: "[A-Za-z0-9_\\-:]+" });
  const typeText = h("input", { name: "new-type-description", autocomplete: "off" });
  const typeCommands = h("input", { name: "new-type-commands", autocomplete: "off", placeholder: "reboot, set_mode" });
  const typeForm = h("form", { class: "filters card", "aria-label": "New thing type" },
    field("New type name", typeName), field("Description", typeText),
    field("Commands it accepts", typeCommands, "Names, separated by commas; offered when sending a command"),
    h("div", { class: "field actions" }, h("button", { type: "submit" }, "Create type")));
  replace(main, fleetsNav("catalog"), h("h1", {}, "Thing types and groups"), problem,
    h("section", { "aria-labelledby": "h-groups" }, h("h2", { id: "h-groups" }, "Thing groups"), groupForm, groups),
    h("section", { "aria-labelledby": "h-types" }, h("h2", { id: "h-types" }, "Thing types"),
      h("p", { class: "muted" }, "A type gets the group “<type> (default)”, which each thing of the type joins."), typeForm, types));

  const act = async (work, done) => {
    replace(problem);
    try {
      await work();
      toast(done);
      await Promise.all([loadGroups(), loadTypes()]);
    } catch (error) {
      replace(problem, errorBox(error));
    }
  };
  groupForm.addEventListener("submit", (event) => {
    event.preventDefault();
    const body = { name: groupName.value.trim() };
    if (groupText.value.trim()) body.description = groupText.value.trim();
    act(async () => {
      await api("/api/v1/thing-groups", { method: "POST", body });
      groupName.value = groupText.value = "";
    }, `Group ${body.name} created.`);
  });
  typeForm.addEventListener("submit", (event) => {
    event.preventDefault();
    const body = { name: typeName.value.trim(), commands: splitNames(typeCommands.value).map((name) => ({ name })) };
    if (typeText.value.trim()) body.description = typeText.value.trim();
    act(async () => {
      await api("/api/v1/thing-types", { method: "POST", body });
      typeName.value = typeText.value = typeCommands.value = "";
    }, `Type ${body.name} created.`);
  });

  const loadGroups = async () => {
    try {
      const body = await api("/api/v1/thing-groups", { query: { page: pages.gpage, limit: LIMIT } });
      if (!alive()) return;
      if (!body.data.length) {
        replace(groups, empty(pages.gpage > 1 ? "No groups on this page." : "No thing groups yet. Create one above, then add things to it on its page or on a thing's page."));
        return;
      }
      replace(groups, table("group-table", ["Name", "Description", "Created", "Actions"], body.data.map((g) => h("tr", {},
        h("td", {}, h("a", { href: `/ui/thing-groups/${encodeURIComponent(g.id)}` }, g.name)), h("td", {}, g.description || "—"),
        h("td", {}, timeEl(g.createdAt)),
        h("td", { class: "actions" }, h("button", { type: "button", class: "secondary danger", "aria-label": `Delete group ${g.name}`,
          onclick: () => act(() => api(`/api/v1/thing-groups/${encodeURIComponent(g.id)}`, { method: "DELETE" }), `Group ${g.name} deleted; its things stay.`) }, "Delete"))))),
      pager(pages.gpage, body.meta, LIMIT, (n) => go("gpage", n), "groups", "Pages of groups"));
    } catch (error) {
      replace(groups, errorBox(error));
    }
  };
  const loadTypes = async () => {
    try {
      const body = await api("/api/v1/thing-types", { query: { page: pages.tpage, limit: LIMIT } });
      if (!alive()) return;
      if (!body.data.length) {
        replace(types, empty(pages.tpage > 1 ? "No types on this page." : "No thing types yet. Create one above, then give it to things on their pages."));
        return;
      }
      replace(types, table("type-table", ["Name", "Description", "Commands", "Created", "Actions"], body.data.map((t) => h("tr", {},
        h("td", {}, h("a", { href: `/ui/things?thingType=${encodeURIComponent(t.name)}` }, t.name)), h("td", {}, t.description || "—"),
        h("td", { class: "mono" }, t.commands.map((c) => c.name).join(", ") || "—"), h("td", {}, timeEl(t.createdAt)),
        h("td", { class: "actions" }, h("button", { type: "button", class: "secondary danger", "aria-label": `Delete type ${t.name}`,
          onclick: () => act(() => api(`/api/v1/thing-types/${encodeURIComponent(t.id)}`, { method: "DELETE" }), `Type ${t.name} deleted.`) }, "Delete"))))),
      pager(pages.tpage, body.meta, LIMIT, (n) => go("tpage", n), "types", "Pages of types"));
    } catch (error) {
      replace(types, errorBox(error));
    }
  };
  await Promise.all([loadGroups(), loadTypes()]);
}

async function groupPage(main, id, query, navigate, alive) {
  let group;
  try {
    group = await api(`/api/v1/thing-groups/${encodeURIComponent(id)}`);
  } catch (error) {
    if (!alive()) return;
    replace(main, fleetsNav("catalog"), h("h1", {}, "Thing group"), errorBox(error), h("p", {}, h("a", { href: "/ui/thing-groups" }, "Back to the groups")));
    return;
  }
  if (!alive()) return;
  document.title = `${group.name} · Tether`;
  const page = Math.max(1, Number(query.get("page")) || 1);
  const problem = h("div", { "aria-live": "polite" });
  const members = h("div", { id: "members" }, h("p", { class: "muted" }, "Loading…"));
  const thing = h("input", { name: "member-name", required: true, autocomplete: "off", pattern: "[A-Za-z0-9_\\-:]+" });
  const add = h("form", { class: "filters card", "aria-label": "Add a thing" }, field("Thing name", thing),
    h("div", { class: "field actions" }, h("button", { type: "submit" }, "Add thing")));
  replace(main, fleetsNav("catalog"),
    h("p", { class: "crumbs" }, h("a", { href: "/ui/thing-groups" }, "Types and groups"), " / "),
    h("h1", { id: "group-name" }, group.name),
    h("dl", { class: "facts" }, h("dt", {}, "Group id"), h("dd", { class: "mono" }, group.id),
      h("dt", {}, "Description"), h("dd", {}, group.description || "—"), h("dt", {}, "Created"), h("dd", {}, timeEl(group.createdAt)),
      h("dt", {}, "Jobs"), h("dd", {}, h("a", { href: `/ui/jobs?group=${encodeURIComponent(group.name)}` }, "Send a job to this group"))),
    h("h2", {}, "Things in the group"), problem, add, members);
  const base = `/api/v1/thing-groups/${encodeURIComponent(id)}/things`;
  const load = async () => {
    try {
      const body = await api(base, { query: { page, limit: LIMIT } });
      if (!alive()) return;
      if (!body.data.length) {
        replace(members, empty(page > 1 ? "No things on this page." : "No things in this group yet. Add one by its name above."));
        return;
      }
      replace(members, table("member-table", ["Name", "Type", "Status", "Actions"], body.data.map((t) => h("tr", {},
        h("td", {}, h("a", { href: `/ui/things/${encodeURIComponent(t.id)}` }, t.name)), h("td", {}, t.thingType || "—"), h("td", {}, t.status),
        h("td", { class: "actions" }, h("button", { type: "button", class: "secondary", "aria-label": `Remove ${t.name} from the group`, onclick: async () => {
          replace(problem);
          try {
            await api(`${base}/${encodeURIComponent(t.id)}`, { method: "DELETE" });
            toast(`${t.name} left ${group.name}.`);
            await load();
          } catch (error) {
            replace(problem, errorBox(error));
          }
        } }, "Remove"))))),
      pager(page, body.meta, LIMIT, (n) => navigate(`/ui/thing-groups/${encodeURIComponent(id)}?page=${n}`), "things"));
    } catch (error) {
      replace(members, errorBox(error));
    }
  };
  add.addEventListener("submit", async (event) => {
    event.preventDefault();
    replace(problem);
    const name = thing.value.trim();
    try {
      const found = await api("/api/v1/things", { query: { name, limit: 1 } });
      if (!found.data.length) throw new Error(`No thing is named ${name}.`);
      await api(base, { method: "POST", body: { thingIds: [found.data[0].id] } });
      thing.value = "";
      toast(`${name} joined ${group.name}.`);
      await load();
    } catch (error) {
      replace(problem, errorBox(error));
    }
  });
  await load();
}
