// Nodes: the nodes of the cluster (/api/v5/nodes: name, version, uptime, listeners) and each one's MQTT
// connections (/api/v5/stats, one entry per node). Without a cluster, this server is the one node.

import { api } from "../api.js";
import { badge, errorBox, h, replace, table } from "../dom.js";

const POLL_MS = 5000;

function uptime(ms) {
  const s = Math.floor(ms / 1000);
  const d = Math.floor(s / 86400), hr = Math.floor((s % 86400) / 3600), m = Math.floor((s % 3600) / 60);
  if (d) return `${d} d ${hr} h`;
  if (hr) return `${hr} h ${m} min`;
  return m ? `${m} min ${s % 60} s` : `${s % 60} s`;
}

export async function render(main, { onLeave }) {
  document.title = "Nodes · Tether";
  const list = h("div", { id: "nodes" }, h("p", { class: "muted" }, "Loading…"));
  replace(main, h("h1", {}, "Nodes"),
    h("p", { class: "muted" }, "The nodes of the cluster, each with its listeners and MQTT connections. The management API of any node reaches the clients of every node."),
    list);

  const load = async () => {
    try {
      const [nodes, stats] = await Promise.all([api("/api/v5/nodes"), api("/api/v5/stats")]);
      const byNode = new Map(stats.map((s) => [s.node, s]));
      replace(list, table(["Node", "Version", "Uptime", "Listeners", "Connections", "Sessions"],
        nodes.map((n) => {
          const figures = byNode.get(n.node) || {};
          const listeners = Object.entries(n.listeners || {}).map(([name, url]) => h("div", {}, `${name}: ${url}`));
          return h("tr", { dataset: { node: n.node } },
            h("td", {}, n.node, n.this_node ? [" ", badge("this node", "ok")] : []),
            h("td", {}, n.version), h("td", {}, uptime(n.uptime)), h("td", {}, listeners),
            h("td", { class: "connections" }, String(figures["live_connections.count"] ?? "–")),
            h("td", {}, String(figures["sessions.count"] ?? "–")));
        }), "node-table"));
    } catch (error) {
      replace(list, errorBox(error));
    }
  };
  await load();
  const timer = setInterval(load, POLL_MS);
  onLeave(() => clearInterval(timer));
}
