// Overview: devices (total, connected, available), active alarms by severity, MQTT messages per second.

import { api, may, total } from "../api.js";
import { errorBox, h, replace, throttle } from "../dom.js";
import { realtime } from "../realtime.js";
import { sparkline } from "../chart.js";
import { FAMILIES } from "./devices.js";

const SEVERITIES = ["CRITICAL", "MAJOR", "MINOR", "WARNING"];
const DEVICES = "has(c8y_IsDevice)";
const POLL_MS = 3000;

function figure(id, label, hint) {
  const value = h("span", { class: "value", id }, "…");
  return { value, el: h("div", { class: "figure card" }, h("span", { class: "label" }, label), value, hint ? h("small", { class: "muted" }, hint) : null) };
}

async function count(filter) {
  return total("/inventory/managedObjects", { query: `$filter=(${DEVICES}${filter ? ` and ${filter}` : ""})` });
}

export async function render(main, { onLeave }) {
  document.title = "Overview · Tether";
  const problems = h("div", { "aria-live": "polite" });
  const devices = figure("count-devices", "Devices");
  const connected = figure("count-connected", "Connected", "c8y_Connection CONNECTED");
  const disconnected = figure("count-disconnected", "Disconnected", "c8y_Connection DISCONNECTED");
  const unavailable = figure("count-unavailable", "Unavailable", "silent past their interval");
  const families = Object.fromEntries(Object.entries(FAMILIES).map(([key, [, label]]) => [key, figure(`family-${key}`, label)]));
  const alarms = Object.fromEntries(SEVERITIES.map((s) => [s, figure(`alarms-${s.toLowerCase()}`, s[0] + s.slice(1).toLowerCase())]));
  const rateIn = figure("rate-in", "Messages in / s");
  const rateOut = figure("rate-out", "Messages out / s");
  // In a cluster: copies sent to and received from the other nodes (docs/cluster.md); 0 on one node.
  const rateForward = figure("rate-forward", "To other nodes / s", "cluster copies sent");
  const rateFromNodes = figure("rate-from-nodes", "From other nodes / s", "cluster copies received");
  const chartBox = h("div", { class: "spark", "aria-hidden": "true" });
  const noDevices = h("div");
  replace(
    main,
    h("h1", {}, "Overview"),
    problems,
    noDevices,
    h("section", { "aria-labelledby": "h-devices" }, h("h2", { id: "h-devices" }, "Devices"),
      h("div", { class: "figures" }, devices.el, connected.el, disconnected.el, unavailable.el)),
    h("section", { "aria-labelledby": "h-families" }, h("h2", { id: "h-families" }, "Devices by family"),
      h("div", { class: "figures" }, Object.values(families).map((f) => h("a", { class: "figure-link", href: `/ui/devices?family=${Object.keys(families).find((k) => families[k] === f)}` }, f.el)))),
    h("section", { "aria-labelledby": "h-alarms" }, h("h2", { id: "h-alarms" }, "Active alarms"),
      h("div", { class: "figures" }, SEVERITIES.map((s) => alarms[s].el))),
    h("section", { "aria-labelledby": "h-traffic" }, h("h2", { id: "h-traffic" }, "MQTT traffic (live)"),
      h("div", { class: "figures" }, rateIn.el, rateOut.el, rateForward.el, rateFromNodes.el), chartBox),
  );

  const refreshDevices = async () => {
    try {
      const [all, on, off, gone, ...byFamily] = await Promise.all([
        count(""),
        count("c8y_Connection.status eq 'CONNECTED'"),
        count("c8y_Connection.status eq 'DISCONNECTED'"),
        count("c8y_Availability.status eq 'UNAVAILABLE'"),
        ...Object.values(FAMILIES).map(([filter]) => count(`(${filter})`)),
      ]);
      Object.values(families).forEach((f, i) => replace(f.value, byFamily[i]));
      replace(devices.value, all);
      replace(connected.value, on);
      replace(disconnected.value, off);
      replace(unavailable.value, gone);
      performance.mark("tether:overview-rendered"); // bench/console_load.py reads it
      replace(noDevices, all === 0 ? h("p", { class: "empty" }, "No devices yet. Connect one (see the README's device quickstarts) or accept a request on the ",
        h("a", { href: "/ui/registration" }, "registration page"), ".") : null);
    } catch (error) {
      replace(problems, errorBox(error));
    }
  };
  const refreshAlarms = async () => {
    try {
      const counts = await Promise.all(SEVERITIES.map((severity) => api("/alarm/alarms/count", { query: { status: "ACTIVE", severity } })));
      SEVERITIES.forEach((s, i) => {
        replace(alarms[s].value, counts[i]);
        alarms[s].el.classList.toggle(`sev-${s.toLowerCase()}`, counts[i] > 0);
      });
    } catch (error) {
      replace(problems, errorBox(error));
    }
  };

  // Messages per second from the difference of /api/v5/metrics between two polls.
  const history = [];
  let last = null;
  const poll = async () => {
    try {
      const figures = await api("/api/v5/metrics", { query: { aggregate: true } });
      const now = performance.now();
      if (last) {
        const seconds = (now - last.at) / 1000;
        const input = Math.max(0, (figures["messages.received"] - last.received) / seconds);
        const output = Math.max(0, (figures["messages.sent"] - last.sent) / seconds);
        replace(rateIn.value, input.toFixed(1));
        replace(rateOut.value, output.toFixed(1));
        replace(rateForward.value, Math.max(0, (figures["messages.forward"] - last.forward) / seconds).toFixed(1));
        replace(rateFromNodes.value, Math.max(0, (figures["messages.forward.received"] - last.fromNodes) / seconds).toFixed(1));
        history.push({ t: Date.now(), input, output });
        if (history.length > 100) history.shift();
        replace(chartBox, sparkline(history, [["input", "in"], ["output", "out"]]));
      }
      last = { at: now, received: figures["messages.received"], sent: figures["messages.sent"],
        forward: figures["messages.forward"], fromNodes: figures["messages.forward.received"] };
    } catch (error) {
      for (const f of [rateIn, rateOut, rateForward, rateFromNodes]) replace(f.value, "—");
      if (error.status !== 401) replace(problems, errorBox(error));
    }
  };

  refreshDevices();
  refreshAlarms();
  if (may("admin")) {
    poll();
    const timer = setInterval(poll, POLL_MS);
    onLeave(() => clearInterval(timer));
  } else { // the broker's figures (/api/v5) are the administrators'
    for (const f of [rateIn, rateOut, rateForward, rateFromNodes]) replace(f.value, "—");
    replace(chartBox, h("p", { class: "muted" }, "Message rates are shown to administrators."));
    chartBox.removeAttribute("aria-hidden");
  }
  // Live: any device or alarm change recounts (at most once a second).
  onLeave(realtime.subscribe("/managedobjects/*", throttle(refreshDevices, 1000)));
  onLeave(realtime.subscribe("/alarms/*", throttle(refreshAlarms, 1000)));
}
