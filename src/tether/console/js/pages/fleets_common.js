// Helpers shared by the EMQX Fleets pages (things, thing types and groups, commands, jobs): the section's
// links, the pager of EMQX paging ({data, meta: {page, limit, count, hasnext}}), status badges, JSON input.

import { badge, errorBox, h, replace } from "../dom.js";

const LINKS = [
  ["things", "/ui/things", "Things"],
  ["catalog", "/ui/thing-groups", "Types and groups"],
  ["jobs", "/ui/jobs", "Jobs"],
];

export function fleetsNav(active) {
  return h("nav", { class: "subnav", "aria-label": "Fleets" },
    LINKS.map(([name, href, label]) => h("a", { href, "aria-current": name === active ? "page" : null }, label)));
}

// Previous/next over a server-paged list; `go(page)` loads that page.
export function pager(page, meta, limit, go, noun, label = "Pages") {
  const pages = Math.max(1, Math.ceil((meta.count || 0) / limit));
  return h("nav", { class: "pager", "aria-label": label },
    h("button", { type: "button", class: "secondary", disabled: page <= 1, "aria-label": `Previous page of ${noun}`, onclick: () => go(page - 1) }, "‹ Previous"),
    h("span", {}, `Page ${page} of ${pages} · ${meta.count} ${noun}`),
    h("button", { type: "button", class: "secondary", disabled: !meta.hasnext, "aria-label": `Next page of ${noun}`, onclick: () => go(page + 1) }, "Next ›"));
}

// Fleets statuses of commands, jobs and executions.
const KINDS = {
  SENT: "info", QUEUED: "info", IN_PROGRESS: "warn", SUCCEEDED: "ok", COMPLETED: "ok",
  FAILED: "bad", REJECTED: "bad", TIMED_OUT: "bad", CANCELED: "off", REMOVED: "off",
};
export function statusBadge(status) {
  return badge(status, KINDS[status]);
}

// The JSON object typed in a textarea, or an error box put in `problem` (null then).
export function jsonObject(text, what, problem) {
  if (!text.trim()) return {};
  let value;
  try {
    value = JSON.parse(text);
  } catch (error) {
    replace(problem, errorBox(`Not JSON in ${what}: ${error.message}`));
    return null;
  }
  if (!value || typeof value !== "object" || Array.isArray(value)) {
    replace(problem, errorBox(`${what[0].toUpperCase()}${what.slice(1)} must be a JSON object.`));
    return null;
  }
  return value;
}

// "a, b c" -> ["a", "b", "c"] (names never hold commas or spaces, except group names: those split on commas).
export function splitNames(text, { spaces = true } = {}) {
  return text.split(spaces ? /[\s,]+/ : /,/).map((n) => n.trim()).filter(Boolean);
}

export function table(id, columns, rows) {
  return h("div", { class: "table-wrap" }, h("table", { class: "list", id },
    h("thead", {}, h("tr", {}, columns.map((c) => h("th", { scope: "col" }, c)))),
    h("tbody", {}, rows)));
}
