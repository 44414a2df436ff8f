// A device's measurements: a chart of its series over a time range (raw values for short ranges, MINUTELY
// or HOURLY min-max aggregates for long ones, drag to zoom), the latest values, both live.

import { api } from "../api.js";
import { empty, errorBox, field, h, replace, timeEl } from "../dom.js";
import { realtime } from "../realtime.js";
import { lineChart } from "../chart.js";

const RANGES = [
  ["15m", "Last 15 minutes", 15 * 60e3],
  ["1h", "Last hour", 3600e3],
  ["6h", "Last 6 hours", 6 * 3600e3],
  ["24h", "Last 24 hours", 24 * 3600e3],
  ["7d", "Last 7 days", 7 * 86400e3],
  ["30d", "Last 30 days", 30 * 86400e3],
];

function aggregation(span) {
  if (span <= 6 * 3600e3) return undefined;
  return span <= 7 * 86400e3 ? "MINUTELY" : "HOURLY";
}

// Each series of a measurement document: [fragment.series, value, unit].
function valuesOf(measurement) {
  const found = [];
  for (const [fragment, body] of Object.entries(measurement)) {
    if (!body || typeof body !== "object" || Array.isArray(body) || ["source"].includes(fragment)) continue;
    for (const [name, series] of Object.entries(body)) {
      if (series && typeof series === "object" && typeof series.value === "number") found.push([`${fragment}.${name}`, series.value, series.unit || ""]);
    }
  }
  return found;
}

export async function measurementsTab(panel, { id, onLeave }) {
  const state = { key: "1h", from: 0, to: 0, live: true, series: new Map(), hidden: new Set() };
  const rangeSelect = h("select", { name: "range" }, RANGES.map(([key, label]) => h("option", { value: key, selected: key === state.key }, label)), h("option", { value: "zoom", hidden: true }, "Zoomed"));
  const picker = h("fieldset", { class: "picker" }, h("legend", {}, "Series"));
  const note = h("p", { class: "muted", id: "chart-note", "aria-live": "polite" });
  const chartBox = h("div", { id: "chart" });
  const latestBody = h("tbody");
  const latest = h("table", { class: "list", id: "latest" }, h("caption", {}, "Latest values"),
    h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Time"), h("th", { scope: "col" }, "Series"), h("th", { scope: "col" }, "Value"))), latestBody);
  const reset = h("button", { type: "button", class: "secondary", hidden: true }, "Back to live range");
  replace(panel, h("div", { class: "filters" }, field("Time range", rangeSelect), h("div", { class: "field actions" }, reset)), picker, note, chartBox, h("div", { class: "table-wrap" }, latest));

  const draw = () => {
    const shown = [...state.series.values()].filter((one) => !state.hidden.has(one.name));
    if (!state.series.size) {
      replace(chartBox, empty("No measurements in this range. Choose a longer range, or have the device send one (SmartREST 200, POST /measurement/measurements)."));
      return;
    }
    replace(chartBox, lineChart(shown, { from: state.from, to: state.to }, {
      title: `Measurements of device ${id}`,
      onZoom: (from, to) => {
        Object.assign(state, { from, to, live: false, key: "zoom" });
        rangeSelect.value = "zoom";
        reset.hidden = false;
        load();
      },
    }));
  };
  const drawPicker = () => {
    replace(picker, h("legend", {}, "Series"), [...state.series.keys()].sort().map((name) => {
      const box = h("input", { type: "checkbox", checked: !state.hidden.has(name), onchange: () => {
        if (box.checked) state.hidden.delete(name);
        else state.hidden.add(name);
        draw();
      } });
      return h("label", { class: "check" }, box, name);
    }));
    if (!state.series.size) picker.append(h("span", { class: "muted" }, "none yet"));
  };

  const load = async () => {
    if (state.live) {
      const span = RANGES.find(([key]) => key === state.key)[2];
      state.to = Date.now();
      state.from = state.to - span;
    }
    const aggregationType = aggregation(state.to - state.from);
    try {
      const body = await api("/measurement/measurements/series", {
        query: { source: id, dateFrom: new Date(state.from).toISOString(), dateTo: new Date(state.to).toISOString(), aggregationType },
      });
      state.series = new Map(body.series.map((spec) => [`${spec.type}.${spec.name}`, { name: `${spec.type}.${spec.name}`, unit: spec.unit, points: [] }]));
      const specs = body.series.map((spec) => state.series.get(`${spec.type}.${spec.name}`));
      for (const [time, slots] of Object.entries(body.values)) {
        const t = Date.parse(time);
        slots.forEach((slot, i) => slot && specs[i].points.push({ t, min: slot.min, max: slot.max }));
      }
      for (const one of specs) one.points.sort((a, b) => a.t - b.t);
      replace(note, `${aggregationType ? `${aggregationType.toLowerCase()} minimum and maximum` : "every value"}${body.truncated ? " — more values than shown: choose a shorter range" : ""}${state.live ? " · live" : ""}`);
      drawPicker();
      draw();
    } catch (error) {
      replace(chartBox, errorBox(error));
    }
  };
  rangeSelect.addEventListener("change", () => {
    if (rangeSelect.value === "zoom") return;
    Object.assign(state, { key: rangeSelect.value, live: true });
    reset.hidden = true;
    load();
  });
  reset.addEventListener("click", () => {
    Object.assign(state, { key: "1h", live: true });
    rangeSelect.value = "1h";
    reset.hidden = true;
    load();
  });

  const addLatest = (m) => {
    for (const [name, value, unit] of valuesOf(m)) {
      latestBody.prepend(h("tr", {}, h("td", {}, timeEl(m.time)), h("td", { class: "mono" }, name), h("td", { class: "value" }, `${value}${unit ? ` ${unit}` : ""}`)));
    }
    while (latestBody.children.length > 20) latestBody.lastChild.remove();
  };
  onLeave(realtime.subscribe(`/measurements/${id}`, (notification) => {
    if (notification.realtimeAction !== "CREATE") return;
    const m = notification.data;
    addLatest(m);
    if (!state.live) return;
    const t = Date.parse(m.time);
    state.to = Math.max(Date.now(), t);
    state.from = state.to - RANGES.find(([key]) => key === state.key)[2];
    for (const [name, value, unit] of valuesOf(m)) {
      if (!state.series.has(name)) {
        state.series.set(name, { name, unit, points: [] });
        drawPicker();
      }
      state.series.get(name).points.push({ t, min: value, max: value });
    }
    draw();
  }));

  await load();
  try {
    const recent = await api("/measurement/measurements", { query: { source: id, pageSize: 10, revert: true } });
    for (const m of recent.measurements.reverse()) addLatest(m);
  } catch (error) {
    latest.after(errorBox(error));
  }
}
