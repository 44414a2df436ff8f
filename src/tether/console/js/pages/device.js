// Device detail: its fragments, measurements chart, alarms, events, operations, connections and children,
// each in a tab, live through the real-time API.

import { api, may } from "../api.js";
import { errorBox, h, replace, throttle, timeEl, toast } from "../dom.js";
import { realtime } from "../realtime.js";
import { status } from "./devices.js";
import { measurementsTab } from "./device_measurements.js";
import { alarmsTab, eventsTab } from "./device_telemetry.js";
import { operationsTab } from "./device_operations.js";

const TABS = [
  ["info", "Fragments"],
  ["measurements", "Measurements"],
  ["alarms", "Alarms"],
  ["events", "Events"],
  ["operations", "Operations"],
  ["connections", "Connections"],
  ["children", "Child devices"],
];

function infoTab(panel, { mo }) {
  const own = ["id", "self", "name", "type", "owner", "creationTime", "lastUpdated", "childDevices", "childAssets", "childAdditions", "deviceParents", "assetParents", "additionParents"];
  const fragments = Object.entries(mo.current).filter(([key]) => !own.includes(key));
  replace(panel,
    h("dl", { class: "facts" },
      h("dt", {}, "Id"), h("dd", { class: "mono" }, mo.current.id),
      h("dt", {}, "Type"), h("dd", {}, mo.current.type || "—"),
      h("dt", {}, "Owner"), h("dd", {}, mo.current.owner || "—"),
      h("dt", {}, "Created"), h("dd", {}, timeEl(mo.current.creationTime)),
      h("dt", {}, "Last update"), h("dd", {}, timeEl(mo.current.lastUpdated))),
    h("h3", {}, "Fragments"),
    fragments.length
      ? h("dl", { class: "fragments" }, fragments.flatMap(([key, value]) => [h("dt", { class: "mono" }, key), h("dd", {}, h("pre", {}, JSON.stringify(value, null, 2)))]))
      : h("p", { class: "empty" }, "This device has no fragments yet: they appear as the device reports them."));
}

async function connectionsTab(panel, { id }) {
  const body = await api(`/inventory/managedObjects/${id}/connections`, { query: { pageSize: 50 } });
  if (!body.connections.length) {
    replace(panel, h("p", { class: "empty" }, "No MQTT connection recorded for this device yet. It appears here once the device connects."));
    return;
  }
  // In a cluster each connection names the node it is (or was) on.
  const nodes = body.connections.some((c) => c.node);
  replace(panel, h("div", { class: "table-wrap" }, h("table", { class: "list" },
    h("thead", {}, h("tr", {}, ["Connected", "Disconnected", "Reason", "Client id", "User", "Address", "MQTT", ...(nodes ? ["Node"] : [])].map((c) => h("th", { scope: "col" }, c)))),
    h("tbody", {}, body.connections.map((c) => h("tr", {},
      h("td", {}, timeEl(c.connected_at)), h("td", {}, c.disconnected_at ? timeEl(c.disconnected_at) : "still connected"),
      h("td", {}, c.reason || "—"), h("td", { class: "mono" }, c.clientid), h("td", {}, c.username || "—"),
      h("td", { class: "mono" }, c.ip_address || "—"), h("td", {}, c.proto_ver ?? "—"),
      nodes ? h("td", { class: "mono" }, c.node || "—") : null))))));
}

// Adding a child reference announces no change of the parent on the real-time API: the tab reloads the
// parent when a managed object is created (a gateway's new child) and every 5 s.
function childrenTab(panel, { id, mo, onLeave }) {
  if (onLeave) {
    const reload = throttle(async () => {
      try {
        mo.current = await api(`/inventory/managedObjects/${id}`);
        childrenTab(panel, { id, mo });
      } catch (error) {
        replace(panel, errorBox(error));
      }
    }, 1000);
    onLeave(realtime.subscribe("/managedobjects/*", (note) => note.realtimeAction === "CREATE" && reload()));
    const timer = setInterval(reload, 5000);
    onLeave(() => clearInterval(timer));
  }
  const children = (mo.current.childDevices && mo.current.childDevices.references) || [];
  if (!children.length) {
    replace(panel, h("p", { class: "empty" }, "No child devices. A gateway adds them (SmartREST 101 on its topic) or POST /inventory/managedObjects/{id}/childDevices."));
    return;
  }
  replace(panel, h("ul", { class: "children" }, children.map((ref) =>
    h("li", {}, h("a", { href: `/ui/devices/${ref.managedObject.id}` }, ref.managedObject.name || `#${ref.managedObject.id}`), " ", h("span", { class: "muted mono" }, `#${ref.managedObject.id}`)))));
}

const RENDERERS = {
  info: infoTab,
  measurements: measurementsTab,
  alarms: alarmsTab,
  events: eventsTab,
  operations: operationsTab,
  connections: connectionsTab,
  children: childrenTab,
};

export async function render(main, { params, query, onLeave, navigate, alive }) {
  const id = params[0];
  // Subscribed before the first read, so no change between the two is missed (notes before the read are
  // older than what it returns: dropped). At most 3 s is waited for the real-time API.
  let onChange = null;
  const unsubscribe = realtime.subscribe(`/managedobjects/${id}`, (note) => onChange && onChange(note));
  onLeave(unsubscribe);
  await Promise.race([unsubscribe.ready, new Promise((resolve) => setTimeout(resolve, 3000))]);
  let current;
  try {
    current = await api(`/inventory/managedObjects/${id}`);
  } catch (error) {
    if (!alive()) return;
    replace(main, h("h1", {}, `Device #${id}`), errorBox(error), h("p", {}, h("a", { href: "/ui/devices" }, "Back to the devices")));
    return;
  }
  if (!alive()) return;
  const mo = { current };
  const title = h("h1", { id: "device-name" }, current.name || `Device #${id}`);
  const badges = h("span", { class: "badges", id: "device-status" }, status(current));
  document.title = `${current.name || id} · Tether`;
  const selected = TABS.some(([k]) => k === query.get("tab")) ? query.get("tab") : "info";
  const panel = h("section", { class: "panel", id: "tab-panel", role: "tabpanel", tabindex: "0", "aria-labelledby": `tab-${selected}` });
  const buttons = TABS.map(([key, label]) =>
    h("button", { type: "button", role: "tab", id: `tab-${key}`, "aria-selected": key === selected ? "true" : "false", tabindex: key === selected ? "0" : "-1", "aria-controls": "tab-panel",
      onclick: () => navigate(`/ui/devices/${id}?tab=${key}`, { replaceState: true }) }, label));
  const tablist = h("div", { class: "tabs", role: "tablist", "aria-label": "Device" }, buttons);
  // Arrow keys move between tabs (WAI-ARIA tabs pattern).
  tablist.addEventListener("keydown", (event) => {
    const index = buttons.indexOf(document.activeElement);
    if (index < 0 || !["ArrowLeft", "ArrowRight", "Home", "End"].includes(event.key)) return;
    event.preventDefault();
    const next = event.key === "Home" ? 0 : event.key === "End" ? buttons.length - 1 : (index + (event.key === "ArrowRight" ? 1 : -1) + buttons.length) % buttons.length;
    buttons[next].focus();
    buttons[next].click();
  });
  // Retirement (DELETE ...?withDeviceUser=true): the device, its data and its device user, after a confirmation.
  const confirmBox = h("div", { id: "retire-confirm", hidden: true, class: "notice", role: "alertdialog", "aria-labelledby": "retire-text" });
  const retire = h("button", { type: "button", class: "secondary danger", disabled: !may("INVENTORY", true), "aria-expanded": "false", "aria-controls": "retire-confirm" }, "Retire device…");
  retire.addEventListener("click", () => {
    const keep = h("button", { type: "button", class: "secondary" }, "Keep it");
    const go = h("button", { type: "button", class: "danger" }, "Retire");
    replace(confirmBox,
      h("p", { id: "retire-text" }, `Retire ${mo.current.name || id}? Its object, its data and its device user are deleted; its credentials stop working at once and its connections close. It can be registered again afterwards.`),
      go, " ", keep);
    confirmBox.hidden = false;
    retire.setAttribute("aria-expanded", "true");
    keep.addEventListener("click", () => {
      confirmBox.hidden = true;
      retire.setAttribute("aria-expanded", "false");
      retire.focus();
    });
    go.addEventListener("click", async () => {
      try {
        await api(`/inventory/managedObjects/${id}`, { method: "DELETE", query: { withDeviceUser: true } });
        toast(`${mo.current.name || id} retired.`);
        navigate("/ui/devices");
      } catch (error) {
        confirmBox.append(errorBox(error));
      }
    });
    keep.focus();
  });
  replace(main,
    h("p", { class: "crumbs" }, h("a", { href: "/ui/devices" }, "Devices"), " / "),
    h("div", { class: "title-row" }, title, badges, h("span", { class: "spacer" }), retire),
    confirmBox,
    tablist, panel);
  if (document.activeElement === document.body || document.activeElement === main) {
    const tab = buttons.find((b) => b.getAttribute("aria-selected") === "true");
    if (query.get("tab")) tab.focus({ preventScroll: true });
  }

  onChange = (note) => {
    if (note.realtimeAction === "DELETE") {
      replace(main, h("h1", {}, `Device #${id}`), h("p", { class: "notice" }, "This device was deleted. ", h("a", { href: "/ui/devices" }, "Back to the devices")));
      return;
    }
    mo.current = note.data;
    replace(title, note.data.name || `Device #${id}`);
    replace(badges, status(note.data));
    if (selected === "info") infoTab(panel, { mo });
    if (selected === "children") childrenTab(panel, { id, mo });
  };
  replace(panel, h("p", { class: "muted" }, "Loading…"));
  try {
    await RENDERERS[selected](panel, { id, mo, onLeave });
  } catch (error) {
    replace(panel, errorBox(error));
  }
}
