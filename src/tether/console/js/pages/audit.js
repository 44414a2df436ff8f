// Audit trail (Cumulocity /audit/auditRecords): filters by type, user and a date range (picked in the
// browser's zone, sent as the same instants in ISO 8601), newest first, paged on the server. The filters live in
// the URL (?type=&user=&from=&to=&page=), so a filtered view can be bookmarked and the back button works.

import { api } from "../api.js";
import { badge, empty, errorBox, field, h, pager, replace, table, timeEl } from "../dom.js";

const PAGE_SIZE = 25;
const TYPES = ["Alarm", "Group", "Inventory", "Operation", "Option", "Tenant", "User", "UserAuthentication", "SYSTEM"];
const SEVERITY = { CRITICAL: "bad", MAJOR: "bad", MINOR: "warn", WARNING: "info", INFORMATION: "off" };

// A datetime-local value (the browser's zone) as the same instant in ISO 8601 (UTC), or "".
function iso(local) {
  if (!local) return "";
  const date = new Date(local);
  return Number.isNaN(date.getTime()) ? "" : date.toISOString();
}

export async function render(main, { query, navigate }) {
  document.title = "Audit · Tether";
  const type = h("select", { name: "audit-type" }, h("option", { value: "" }, "Any type"), TYPES.map((t) => h("option", { value: t }, t)));
  const user = h("input", { name: "audit-user", autocomplete: "off" });
  const from = h("input", { name: "audit-from", type: "datetime-local" });
  const to = h("input", { name: "audit-to", type: "datetime-local" });
  type.value = query.get("type") || "";
  user.value = query.get("user") || "";
  from.value = query.get("from") || "";
  to.value = query.get("to") || "";
  const page = Math.max(Number(query.get("page")) || 1, 1);
  const zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
  const form = h("form", { class: "filters", role: "search", "aria-label": "Filter the audit records" },
    field("Type", type), field("User", user), field("From", from, zone), field("To", to, zone),
    h("div", { class: "field actions" }, h("button", { type: "submit" }, "Filter")),
    h("div", { class: "field actions" }, h("button", { type: "button", class: "secondary", onclick: () => navigate("/ui/audit") }, "Clear")));
  const results = h("div", { id: "audit", "aria-live": "polite" }, h("p", { class: "muted" }, "Loading…"));
  replace(main, h("h1", {}, "Audit"), form, results);

  const go = (to_page) => {
    const params = new URLSearchParams();
    for (const [name, el] of [["type", type], ["user", user], ["from", from], ["to", to]]) if (el.value.trim()) params.set(name, el.value.trim());
    if (to_page > 1) params.set("page", to_page);
    const text = params.toString();
    navigate(`/ui/audit${text ? `?${text}` : ""}`);
  };
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    go(1);
  });

  let body;
  try {
    body = await api("/audit/auditRecords", { query: {
      type: type.value, user: user.value.trim(), dateFrom: iso(from.value), dateTo: iso(to.value), revert: true,
      pageSize: PAGE_SIZE, currentPage: page, withTotalPages: true, withTotalElements: true,
    } });
  } catch (error) {
    return replace(results, errorBox(error));
  }
  const filtered = [type, user, from, to].some((el) => el.value);
  if (!body.auditRecords.length) {
    return replace(results, empty(filtered ? "No audit record matches these filters. Widen the date range or clear a filter." : "No audit records yet: changes to users, groups, tenants, options, devices and alarms, and refused logins, are recorded here."));
  }
  replace(results, table(["Time", "Type", "Activity", "Text", "User", "Source", "Severity"], body.auditRecords.map((r) => h("tr", { dataset: { record: r.id } },
    h("td", {}, timeEl(r.time)), h("td", {}, r.type), h("td", {}, r.activity), h("td", { class: "wrap" }, r.text),
    h("td", {}, r.user || "—"), h("td", { class: "mono" }, r.source ? r.source.id : "—"),
    h("td", {}, badge((r.severity || "").toLowerCase(), SEVERITY[r.severity] || "off")))), "audit-table"),
  pager(page, body.statistics, "records", go));
}
