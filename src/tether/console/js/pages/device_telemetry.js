// A device's alarms (acknowledge, clear) and events, live.

import { api, may } from "../api.js";
import { badge, empty, errorBox, field, h, replace, timeEl, toast } from "../dom.js";
import { realtime } from "../realtime.js";

const SEVERITY = { CRITICAL: "bad", MAJOR: "bad", MINOR: "warn", WARNING: "info" };

export async function alarmsTab(panel, { id, onLeave }) {
  const statusSelect = h("select", { name: "alarm-status" },
    h("option", { value: "ACTIVE,ACKNOWLEDGED" }, "Active and acknowledged"),
    h("option", { value: "ACTIVE" }, "Active"), h("option", { value: "ACKNOWLEDGED" }, "Acknowledged"),
    h("option", { value: "CLEARED" }, "Cleared"), h("option", { value: "" }, "All"));
  const list = h("div", { id: "alarms", "aria-live": "polite" });
  const problem = h("div");
  replace(panel, h("div", { class: "filters" }, field("Status", statusSelect)), problem, list);
  const rows = new Map();

  const row = (alarm) => {
    const act = (status) => async () => {
      try {
        await api(`/alarm/alarms/${alarm.id}`, { method: "PUT", body: { status } });
        toast(`Alarm ${status === "CLEARED" ? "cleared" : "acknowledged"}.`);
        replace(problem);
      } catch (error) {
        replace(problem, errorBox(error));
      }
    };
    return h("tr", { dataset: { id: alarm.id, status: alarm.status } },
      h("td", {}, badge(alarm.severity, SEVERITY[alarm.severity])),
      h("td", {}, alarm.text), h("td", { class: "mono" }, alarm.type),
      h("td", { class: "alarm-status" }, alarm.status), h("td", {}, alarm.count > 1 ? `${alarm.count}×` : "1"),
      h("td", {}, timeEl(alarm.time)),
      h("td", { class: "actions" },
        alarm.status === "ACTIVE" ? h("button", { type: "button", class: "secondary", disabled: !may("ALARM", true), onclick: act("ACKNOWLEDGED"), "aria-label": `Acknowledge ${alarm.type}` }, "Acknowledge") : null,
        alarm.status !== "CLEARED" ? h("button", { type: "button", class: "secondary", disabled: !may("ALARM", true), onclick: act("CLEARED"), "aria-label": `Clear ${alarm.type}` }, "Clear") : null));
  };
  let tbody;
  const show = (alarms) => {
    rows.clear();
    if (!alarms.length) {
      replace(list, empty("No alarms with this status. Alarms raised by the device (SmartREST 301–304, POST /alarm/alarms) appear here live."));
      tbody = null;
      return;
    }
    tbody = h("tbody", {}, alarms.map((a) => {
      const tr = row(a);
      rows.set(a.id, tr);
      return tr;
    }));
    replace(list, h("div", { class: "table-wrap" }, h("table", { class: "list" },
      h("thead", {}, h("tr", {}, ["Severity", "Text", "Type", "Status", "Count", "Time", "Actions"].map((c) => h("th", { scope: "col" }, c)))), tbody)));
  };
  const load = async () => {
    try {
      const body = await api("/alarm/alarms", { query: { source: id, status: statusSelect.value, pageSize: 50 } });
      show(body.alarms);
    } catch (error) {
      replace(list, errorBox(error));
    }
  };
  statusSelect.addEventListener("change", load);
  onLeave(realtime.subscribe(`/alarms/${id}`, (note) => {
    const alarm = note.data;
    if (note.realtimeAction === "DELETE") {
      const gone = rows.get(String(alarm));
      if (gone) gone.remove();
      rows.delete(String(alarm));
      if (!rows.size) show([]);
      return;
    }
    const wanted = !statusSelect.value || statusSelect.value.split(",").includes(alarm.status);
    const existing = rows.get(alarm.id);
    if (existing && wanted) {
      const fresh = row(alarm);
      existing.replaceWith(fresh);
      rows.set(alarm.id, fresh);
    } else if (existing) {
      existing.remove();
      rows.delete(alarm.id);
      if (!rows.size) show([]);
    } else if (wanted) {
      if (!tbody) show([alarm]);
      else {
        const fresh = row(alarm);
        tbody.prepend(fresh);
        rows.set(alarm.id, fresh);
      }
    }
  }));
  await load();
}

export async function eventsTab(panel, { id, onLeave }) {
  const list = h("div", { id: "events" });
  replace(panel, list);
  let tbody = null;
  const row = (e) => h("tr", { dataset: { id: e.id } }, h("td", {}, timeEl(e.time)), h("td", { class: "mono" }, e.type), h("td", {}, e.text));
  const show = (events) => {
    if (!events.length) {
      replace(list, empty("No events yet. Events the device sends (SmartREST 400, POST /event/events) appear here live."));
      return;
    }
    tbody = h("tbody", {}, events.map(row));
    replace(list, h("div", { class: "table-wrap" }, h("table", { class: "list" },
      h("thead", {}, h("tr", {}, ["Time", "Type", "Text"].map((c) => h("th", { scope: "col" }, c)))), tbody)));
  };
  onLeave(realtime.subscribe(`/events/${id}`, (note) => {
    if (note.realtimeAction !== "CREATE") return;
    if (tbody) tbody.prepend(row(note.data));
    else show([note.data]);
  }));
  try {
    const body = await api("/event/events", { query: { source: id, pageSize: 50 } }) // newest first;
    show(body.events);
  } catch (error) {
    replace(list, errorBox(error));
  }
}
