// The console's shell: the router (URLs under /ui/), the header with navigation and logout, the login page.

import { login, logout, session, whenSessionEnds } from "./api.js";
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
import * as users from "./pages/users.js";

const ROUTES = [
  { pattern: /^\/ui\/?$|^\/$/, page: overview, nav: "overview" },
  { pattern: /^\/ui\/devices\/?$/, page: devices, nav: "devices" },
  { pattern: /^\/ui\/devices\/(\d+)\/?$/, page: device, nav: "devices" },
  { pattern: /^\/ui\/registration\/?$/, page: registration, nav: "registration" },
  { pattern: /^\/ui\/broker\/?$/, page: broker, nav: "broker" },
  { pattern: /^\/ui\/rules\/?$/, page: rules, nav: "rules" },
  { pattern: /^\/ui\/connectors\/?$/, page: connectors, nav: "connectors" },
  { pattern: /^\/ui\/users\/?$/, page: users, nav: "users" },
  { pattern: /^\/ui\/things\/?$/, page: things, nav: "things" },
  { pattern: /^\/ui\/things\/([^/]+)\/?$/, page: things, nav: "things" },
];
const NAV = [
  ["overview", "/ui/", "Overview"],
  ["devices", "/ui/devices", "Devices"],
  ["things", "/ui/things", "Things"],
  ["registration", "/ui/registration", "Registration"],
  ["broker", "/ui/broker", "Broker"],
  ["rules", "/ui/rules", "Rules"],
  ["connectors", "/ui/connectors", "Connectors"],
  ["users", "/ui/users", "Users"],
];

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
  const links = NAV.map(([name, href, label]) =>
    h("a", { href, "aria-current": name === active ? "page" : null }, label),
  );
  replace(
    top,
    h("a", { class: "brand", href: "/ui/" }, "Tether"),
    h("nav", { "aria-label": "Main" }, links),
    h(
      "div",
      { class: "who" },
      h("span", { class: "user", title: "Logged in as" }, current.user),
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
    h("p", { class: "muted" }, "Log in as an administrator: tenant/user (or the user alone for the default tenant)."),
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
      navigate(next && next.startsWith("/ui/") && !next.startsWith("/ui/login") ? next : "/ui/", { replaceState: true });
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
