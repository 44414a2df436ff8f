// The console's shell: the router (URLs under /ui/), the header with navigation and logout, the login page.

import { login, logout, may, session, whenSessionEnds } from "./api.js";
import { field, h, replace } from "./dom.js";
import { realtime } from "./realtime.js";
import * as overview from "./pages/overview.js";
import * as devices from "./pages/devices.js";
import * as device from "./pages/device.js";
import * as registration from "./pages/registration.js";
import * as broker from "./pages/broker.js";
import * as rules from "./pages/rules.js";
import * as connectors from "./pages/connectors.js";
import * as things from "./pages/things.js";
import * as thingCatalog from "./pages/thing_catalog.js";
import * as jobs from "./pages/jobs.js";
import * as users from "./pages/users.js";
import * as groups from "./pages/groups.js";
import * as tenants from "./pages/tenants.js";
import * as audit from "./pages/audit.js";
import * as retention from "./pages/retention.js";
import * as inventoryRoles from "./pages/inventory_roles.js";
import * as bulk from "./pages/bulk.js";
import * as nodes from "./pages/nodes.js";

const ROUTES = [
  { pattern: /^\/ui\/?$|^\/$/, page: overview, nav: "overview" },
  { pattern: /^\/ui\/devices\/?$/, page: devices, nav: "devices" },
  { pattern: /^\/ui\/devices\/(\d+)\/?$/, page: device, nav: "devices" },
  { pattern: /^\/ui\/registration\/?$/, page: registration, nav: "registration" },
  { pattern: /^\/ui\/broker\/?$/, page: broker, nav: "broker" },
  { pattern: /^\/ui\/rules\/?$/, page: rules, nav: "rules" },
  { pattern: /^\/ui\/connectors\/?$/, page: connectors, nav: "connectors" },
  { pattern: /^\/ui\/users\/?$/, page: users, nav: "users" },
  { pattern: /^\/ui\/groups\/?$/, page: groups, nav: "groups" },
  { pattern: /^\/ui\/tenants\/?$/, page: tenants, nav: "tenants" },
  { pattern: /^\/ui\/audit\/?$/, page: audit, nav: "audit" },
  { pattern: /^\/ui\/bulk\/?$/, page: bulk, nav: "bulk" },
  { pattern: /^\/ui\/things\/?$/, page: things, nav: "things" },
  { pattern: /^\/ui\/things\/([^/]+)\/?$/, page: things, nav: "things" },
  { pattern: /^\/ui\/thing-groups\/?$/, page: thingCatalog, nav: "things" },
  { pattern: /^\/ui\/thing-groups\/([^/]+)\/?$/, page: thingCatalog, nav: "things" },
  { pattern: /^\/ui\/jobs\/?$/, page: jobs, nav: "jobs" },
  { pattern: /^\/ui\/jobs\/([^/]+)\/?$/, page: jobs, nav: "jobs" },
  { pattern: /^\/ui\/retention\/?$/, page: retention, nav: "retention" },
  { pattern: /^\/ui\/inventory-roles\/?$/, page: inventoryRoles, nav: "inventory-roles" },
  { pattern: /^\/ui\/nodes\/?$/, page: nodes, nav: "nodes" },
];
// The header's navigation, one entry a line, grouped by `section` (in the order sections first appear).
// `needs`: the API family the page reads (api.js may()), "admin" for administrators only, absent for everyone.
const NAV = [
  { section: "Devices", name: "overview", href: "/ui/", label: "Overview", needs: "INVENTORY" },
  { section: "Devices", name: "devices", href: "/ui/devices", label: "Devices", needs: "INVENTORY" },
  { section: "Devices", name: "registration", href: "/ui/registration", label: "Registration", needs: "DEVICE_CONTROL" },
  { section: "Fleets", name: "things", href: "/ui/things", label: "Things", needs: "admin" },
  { section: "Fleets", name: "jobs", href: "/ui/jobs", label: "Jobs", needs: "admin" },
  { section: "Devices", name: "bulk", href: "/ui/bulk", label: "Bulk operations", needs: "DEVICE_CONTROL" },
  { section: "Broker & rules", name: "broker", href: "/ui/broker", label: "Broker", needs: "admin" },
  { section: "Broker & rules", name: "rules", href: "/ui/rules", label: "Rules", needs: "admin" },
  { section: "Broker & rules", name: "connectors", href: "/ui/connectors", label: "Connectors", needs: "admin" },
  { section: "Broker & rules", name: "nodes", href: "/ui/nodes", label: "Nodes", needs: "admin" },
  { section: "Administration", name: "users", href: "/ui/users", label: "Users", needs: "USER_MANAGEMENT" },
  { section: "Administration", name: "groups", href: "/ui/groups", label: "Groups & roles", needs: "USER_MANAGEMENT" },
  { section: "Administration", name: "inventory-roles", href: "/ui/inventory-roles", label: "Inventory roles", needs: "USER_MANAGEMENT" },
  { section: "Administration", name: "tenants", href: "/ui/tenants", label: "Tenants & options", needs: ["TENANT_MANAGEMENT", "OPTION_MANAGEMENT"] },
  { section: "Administration", name: "audit", href: "/ui/audit", label: "Audit", needs: "AUDIT" },
  { section: "Administration", name: "retention", href: "/ui/retention", label: "Retention", needs: "RETENTION_RULE" },
];

function allowed(entry) {
  return !entry || [].concat(entry.needs || []).length === 0 || [].concat(entry.needs).some((family) => may(family));
}

const main = document.getElementById("main");
const top = document.getElementById("top");
let cleanup = [];
let generation = 0; // which render is current: a page still loading when left must not draw over the next
let loginNotice = "";

export function navigate(url, { replaceState = false } = {}) {
  if (replaceState) history.replaceState(null, "", url);
  else history.pushState(null, "", url);
  render();
}

function leave() {
  for (const undo of cleanup) {
    try {
      undo();
    } catch (error) {
      console.error(error);
    }
  }
  cleanup = [];
}

function header(active) {
  const current = session();
  if (!current) return replace(top);
  const sections = new Map();
  for (const entry of NAV.filter(allowed)) {
    const title = entry.section || "More";
    if (!sections.has(title)) sections.set(title, []);
    sections.get(title).push(entry);
  }
  const groupsEl = [...sections].map(([title, entries], i) => h("div", { class: "nav-section", role: "group", "aria-labelledby": `nav-s${i}` },
    h("span", { class: "nav-label", id: `nav-s${i}` }, title),
    entries.map((e) => h("a", { href: e.href, "aria-current": e.name === active ? "page" : null }, e.label))));
  const nav = h("nav", { id: "main-nav", "aria-label": "Main" }, groupsEl);
  const toggle = h("button", { type: "button", class: "secondary menu", "aria-expanded": "false", "aria-controls": "main-nav", onclick: () => {
    const open = toggle.getAttribute("aria-expanded") !== "true";
    toggle.setAttribute("aria-expanded", String(open));
    nav.classList.toggle("open", open);
  } }, "Menu");
  replace(
    top,
    h("a", { class: "brand", href: "/ui/" }, "Tether"),
    toggle,
    nav,
    h(
      "div",
      { class: "who" },
      h("span", { class: "user", title: current.admin ? "Logged in as (administrator)" : "Logged in as" }, current.user),
      h("button", { type: "button", id: "logout", class: "secondary", onclick: signOut }, "Log out"),
    ),
  );
}

async function signOut() {
  realtime.stop();
  await logout();
  loginNotice = "You are logged out.";
  navigate("/ui/login");
}

function loginPage() {
  replace(top);
  const user = h("input", { name: "username", autocomplete: "username", required: true, placeholder: "tenant/user" });
  const password = h("input", { name: "password", type: "password", autocomplete: "current-password", required: true });
  const message = h("p", { id: "login-message", role: "alert", class: loginNotice ? "notice" : "" }, loginNotice);
  loginNotice = "";
  const button = h("button", { type: "submit" }, "Log in");
  const form = h(
    "form",
    { class: "login card", "aria-labelledby": "login-title" },
    h("h1", { id: "login-title" }, "Tether console"),
    h("p", { class: "muted" }, "Log in as tenant/user (or the user alone for the default tenant). You see the pages your roles open."),
    field("User", user),
    field("Password", password),
    message,
    button,
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    button.disabled = true;
    message.className = "";
    replace(message, "Logging in…");
    try {
      await login(user.value.trim(), password.value);
      const next = new URLSearchParams(location.search).get("next");
      const home = (NAV.find(allowed) || { href: "/ui/" }).href;
      navigate(next && next.startsWith("/ui/") && !next.startsWith("/ui/login") ? next : home, { replaceState: true });
    } catch (error) {
      message.className = "error";
      replace(message, error.message);
      password.select();
    } finally {
      button.disabled = false;
    }
  });
  replace(main, form);
  document.title = "Log in · Tether";
  user.focus();
}

function render() {
  leave();
  const mine = ++generation;
  const path = location.pathname;
  if (path.startsWith("/ui/login")) {
    if (session()) return navigate("/ui/", { replaceState: true });
    return loginPage();
  }
  if (!session()) {
    const next = path + location.search;
    history.replaceState(null, "", `/ui/login?next=${encodeURIComponent(next)}`);
    return loginPage();
  }
  const route = ROUTES.find((r) => r.pattern.test(path));
  header(route ? route.nav : null);
  if (!route) {
    replace(main, h("h1", {}, "Not found"), h("p", {}, "No page here. ", h("a", { href: "/ui/" }, "Go to the overview.")));
    return;
  }
  const entry = NAV.find((e) => e.name === route.nav);
  if (!allowed(entry)) {
    const open = NAV.filter(allowed);
    replace(main, h("h1", {}, "Not for your roles"), h("p", { class: "error", role: "alert" }, `Your roles do not open the ${entry.label} page. Ask an administrator for the role, or go on with `, open.length ? h("a", { href: open[0].href }, open[0].label) : "nothing: you hold no role yet", "."));
    return;
  }
  const match = path.match(route.pattern);
  replace(main);
  const context = {
    params: match.slice(1),
    query: new URLSearchParams(location.search),
    onLeave: (undo) => (mine === generation ? cleanup.push(undo) : undo()),
    alive: () => mine === generation,
    navigate,
  };
  Promise.resolve(route.page.render(main, context)).catch((error) => console.error(error));
  main.focus({ preventScroll: true });
}

// Same-origin links under /ui/ change the page without reloading it.
document.addEventListener("click", (event) => {
  const link = event.target.closest("a[href]");
  if (!link || event.defaultPrevented || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey) return;
  const url = new URL(link.href, location.href);
  if (url.origin !== location.origin || !(url.pathname === "/" || url.pathname.startsWith("/ui"))) return;
  event.preventDefault();
  navigate(url.pathname + url.search);
});
window.addEventListener("popstate", render);
whenSessionEnds((message) => {
  realtime.stop();
  if (location.pathname.startsWith("/ui/login")) return;
  loginNotice = message;
  navigate(`/ui/login?next=${encodeURIComponent(location.pathname + location.search)}`, { replaceState: true });
});

render();
