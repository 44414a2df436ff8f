// A thing's type and groups on its page, edited through PUT /api/v1/things/{id} (`thingType`, `groups`): the
// type from the tenant's types (giving one makes the thing join "<type> (default)"), the groups one by one.

import { api } from "../api.js";
import { errorBox, field, h, replace, toast } from "../dom.js";

const SUGGESTIONS = 100; // names offered in the pickers; any other name may be typed

async function names(path) {
  try {
    const body = await api(path, { query: { limit: SUGGESTIONS } });
    return body.data.map((item) => item.name);
  } catch (_) {
    return []; // suggestions only: the save reports a real problem in words
  }
}

export function membershipCard(thing, onTypeChange) {
  const problem = h("div", { "aria-live": "polite" });
  const typeList = h("datalist", { id: "thing-type-names" });
  const groupList = h("datalist", { id: "thing-group-names" });
  const type = h("input", { name: "thing-type", list: "thing-type-names", autocomplete: "off", value: thing.thingType || "", placeholder: "none" });
  const group = h("input", { name: "add-group", list: "thing-group-names", autocomplete: "off", required: true });
  const chips = h("ul", { class: "chips", id: "thing-groups" });
  const save = async (body, done) => {
    replace(problem);
    try {
      const updated = await api(`/api/v1/things/${encodeURIComponent(thing.id)}`, { method: "PUT", body });
      toast(done);
      const typeChanged = updated.thingType !== thing.thingType;
      Object.assign(thing, updated);
      if (typeChanged) onTypeChange(updated.thingType);
      show();
      return true;
    } catch (error) {
      replace(problem, errorBox(error));
      return false;
    }
  };
  const show = () => {
    type.value = thing.thingType || "";
    replace(chips, thing.groups.length
      ? thing.groups.map((name) => h("li", {}, h("a", { href: `/ui/things?group=${encodeURIComponent(name)}` }, name),
        h("button", { type: "button", class: "secondary", "aria-label": `Leave group ${name}`,
          onclick: () => save({ groups: thing.groups.filter((g) => g !== name) }, `${thing.name} left ${name}.`) }, "×")))
      : h("li", { class: "muted" }, "In no group: add one below."));
  };
  const typeForm = h("form", { class: "filters", "aria-label": "Thing type" }, field("Type", type, "Empty: no type"),
    h("div", { class: "field actions" }, h("button", { type: "submit" }, "Save type")), typeList);
  typeForm.addEventListener("submit", (event) => {
    event.preventDefault();
    const value = type.value.trim();
    save({ thingType: value || null }, value ? `${thing.name} is a ${value}.` : `${thing.name} has no type.`);
  });
  const groupForm = h("form", { class: "filters", "aria-label": "Add to a group" }, field("Add to a group", group),
    h("div", { class: "field actions" }, h("button", { type: "submit" }, "Add to group")), groupList);
  groupForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    const value = group.value.trim();
    if (await save({ groups: [...new Set([...thing.groups, value])] }, `${thing.name} joined ${value}.`)) group.value = "";
  });
  show();
  names("/api/v1/thing-types").then((found) => replace(typeList, found.map((n) => h("option", { value: n }))));
  names("/api/v1/thing-groups").then((found) => replace(groupList, found.map((n) => h("option", { value: n }))));
  return h("section", { class: "card block", "aria-labelledby": "h-membership" },
    h("h2", { id: "h-membership" }, "Type and groups"), typeForm,
    h("p", { class: "label" }, "Groups"), chips, groupForm, problem,
    h("p", { class: "muted" }, "Manage groups and types on ", h("a", { href: "/ui/thing-groups" }, "Types and groups"), "."));
}
