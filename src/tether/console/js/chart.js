// Small hand-written SVG charts: a line chart of time series (with min-max bands for aggregates, drag to
// zoom) and a sparkline. No library.

import { h, s } from "./dom.js";

const COLORS = ["#1f6feb", "#d1242f", "#1a7f37", "#9a6700", "#8250df", "#bf3989", "#0a7ea4", "#57606a"];
const W = 800;
const H = 260;
const PAD = { left: 56, right: 12, top: 12, bottom: 28 };
const tickTime = new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit" });
const tickDate = new Intl.DateTimeFormat(undefined, { month: "short", day: "numeric", hour: "2-digit", minute: "2-digit" });

function niceNumber(value) {
  const abs = Math.abs(value);
  if (abs !== 0 && (abs >= 1e6 || abs < 1e-3)) return value.toExponential(2);
  return Number(value.toPrecision(4)).toString();
}

// series: [{name, unit, points: [{t: ms, min, max}]}]; range: {from, to} in ms; onZoom(from, to).
export function lineChart(series, range, { onZoom, title } = {}) {
  const values = series.flatMap((one) => one.points.flatMap((p) => [p.min, p.max]));
  let low = Math.min(...values);
  let high = Math.max(...values);
  if (!Number.isFinite(low)) [low, high] = [0, 1];
  if (low === high) [low, high] = [low - 1, high + 1];
  const margin = (high - low) * 0.05;
  low -= margin;
  high += margin;
  const x = (t) => PAD.left + ((t - range.from) / (range.to - range.from)) * (W - PAD.left - PAD.right);
  const y = (v) => PAD.top + (1 - (v - low) / (high - low)) * (H - PAD.top - PAD.bottom);
  const svg = s("svg", { viewBox: `0 0 ${W} ${H}`, class: "chart", role: "img", "aria-label": title || "Measurements chart" });
  const grid = s("g", { class: "grid" });
  for (let i = 0; i <= 4; i++) {
    const v = low + ((high - low) * i) / 4;
    grid.append(s("line", { x1: PAD.left, x2: W - PAD.right, y1: y(v), y2: y(v) }));
    grid.append(s("text", { x: PAD.left - 6, y: y(v) + 4, "text-anchor": "end" }, niceNumber(v)));
  }
  const long = range.to - range.from > 86400000;
  for (let i = 0; i <= 4; i++) {
    const t = range.from + ((range.to - range.from) * i) / 4;
    grid.append(s("text", { x: x(t), y: H - 8, "text-anchor": i === 0 ? "start" : i === 4 ? "end" : "middle" },
      (long ? tickDate : tickTime).format(new Date(t))));
  }
  svg.append(grid);
  series.forEach((one, index) => {
    const color = COLORS[index % COLORS.length];
    const points = one.points.filter((p) => p.t >= range.from && p.t <= range.to);
    if (points.some((p) => p.max !== p.min)) {
      const upper = points.map((p) => `${x(p.t).toFixed(1)},${y(p.max).toFixed(1)}`);
      const lower = points.map((p) => `${x(p.t).toFixed(1)},${y(p.min).toFixed(1)}`).reverse();
      svg.append(s("polygon", { points: [...upper, ...lower].join(" "), fill: color, opacity: "0.15" }));
    }
    const mid = points.map((p) => `${x(p.t).toFixed(1)},${y((p.min + p.max) / 2).toFixed(1)}`).join(" ");
    svg.append(s("polyline", { points: mid, fill: "none", stroke: color, "stroke-width": "2", class: "series", "data-series": one.name, "data-points": points.length }));
    if (points.length <= 60) {
      for (const p of points) svg.append(s("circle", { cx: x(p.t), cy: y((p.min + p.max) / 2), r: 2.5, fill: color }));
    }
  });
  // Drag across the plot to zoom into that time range.
  if (onZoom) {
    const band = s("rect", { class: "zoom", y: PAD.top, height: H - PAD.top - PAD.bottom, width: 0, x: 0 });
    svg.append(band);
    let start = null;
    const toT = (event) => {
      const box = svg.getBoundingClientRect();
      const px = ((event.clientX - box.left) / box.width) * W;
      const clamped = Math.min(W - PAD.right, Math.max(PAD.left, px));
      return { px: clamped, t: range.from + ((clamped - PAD.left) / (W - PAD.left - PAD.right)) * (range.to - range.from) };
    };
    svg.addEventListener("pointerdown", (event) => {
      start = toT(event);
      svg.setPointerCapture(event.pointerId);
    });
    svg.addEventListener("pointermove", (event) => {
      if (!start) return;
      const now = toT(event);
      band.setAttribute("x", Math.min(start.px, now.px));
      band.setAttribute("width", Math.abs(now.px - start.px));
    });
    svg.addEventListener("pointerup", (event) => {
      if (!start) return;
      const end = toT(event);
      const [from, to] = [Math.min(start.t, end.t), Math.max(start.t, end.t)];
      start = null;
      band.setAttribute("width", 0);
      if (to - from > 1000) onZoom(from, to);
    });
  }
  const legend = h("ul", { class: "legend" }, series.map((one, index) =>
    h("li", {}, h("span", { class: "swatch", style: null, dataset: { color: String(index % COLORS.length) } }), `${one.name}${one.unit ? ` (${one.unit})` : ""}`)));
  return h("figure", { class: "chart-box" }, svg, legend);
}

// history: [{t, <key>: number}], keys: [[key, label]].
export function sparkline(history, keys) {
  const W2 = 300;
  const H2 = 60;
  const max = Math.max(1, ...history.flatMap((p) => keys.map(([k]) => p[k])));
  const svg = s("svg", { viewBox: `0 0 ${W2} ${H2}`, class: "sparkline" });
  keys.forEach(([key], index) => {
    const pts = history.map((p, i) => `${((i / Math.max(1, history.length - 1)) * W2).toFixed(1)},${(H2 - (p[key] / max) * (H2 - 4) - 2).toFixed(1)}`);
    svg.append(s("polyline", { points: pts.join(" "), fill: "none", stroke: COLORS[index], "stroke-width": "2" }));
  });
  return svg;
}
