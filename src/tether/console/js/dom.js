// DOM helpers: elements are built, never parsed from strings (nothing the API returns is treated as markup).

export function h(tag, props = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(props || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith("on") && typeof value === "function") el.addEventListener(key.slice(2), value);
    else if (key === "class") el.className = value;
    else if (key === "dataset") Object.assign(el.dataset, value);
    else if (key in el && typeof value !== "string") el[key] = value;
    else el.setAttribute(key, value === true ? "" : value);
  }
  append(el, children);
  return el;
}

export function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

export function replace(el, ...children) {
  el.replaceChildren();
  return append(el, children);
}

const SVG = "http://www.w3.org/2000/svg";
export function s(tag, attrs = {}, ...children) {
  const el = document.createElementNS(SVG, tag);
  for (const [key, value] of Object.entries(attrs)) if (value !== undefined && value !== null) el.setAttribute(key, value);
  append(el, children);
  return el;
}

// Times in the browser's own zone (the API speaks UTC ISO 8601).
const timeFormat = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "medium" });
export function when(iso) {
  if (!iso) return "—";
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? String(iso) : timeFormat.format(date);
}
export function timeEl(iso) {
  return h("time", { datetime: iso || "" }, when(iso));
}

let toastTimer;
export function toast(message, kind = "info") {
  const el = document.getElementById("toast");
  replace(el, message);
  el.dataset.kind = kind;
  el.classList.add("shown");
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => el.classList.remove("shown"), 5000);
}

// An error box in words: the API's own message (api.js ApiError), or the browser's.
export function errorBox(error) {
  return h("p", { class: "error", role: "alert" }, error && error.message ? error.message : String(error));
}

export function empty(message) {
  return h("p", { class: "empty" }, message);
}

export function badge(text, kind) {
  return h("span", { class: `badge ${kind || ""}` }, text);
}

// A labelled control: <label> with its text above the control.
export function field(label, control, hint) {
  const id = control.id || `f-${Math.random().toString(36).slice(2, 9)}`;
  control.id = id;
  return h("div", { class: "field" }, h("label", { for: id }, label), control, hint ? h("small", {}, hint) : null);
}

// At most one call per `ms`, at its end (a steady stream of changes still refreshes every `ms`).
export function throttle(fn, ms) {
  let timer = null;
  return () => {
    if (timer === null) {
      timer = setTimeout(() => {
        timer = null;
        fn();
      }, ms);
    }
  };
}

// A list table with column headers (`rows` are <tr> elements).
export function table(headers, rows, id) {
  return h("div", { class: "table-wrap" }, h("table", { class: "list", id },
    h("thead", {}, h("tr", {}, headers.map((c) => h("th", { scope: "col" }, c)))), h("tbody", {}, rows)));
}

// Server paging: ‹ Previous · page n of m · Next ›, from a Cumulocity collection's statistics.
export function pager(page, stats, noun, go) {
  const pages = Math.max(stats.totalPages || 1, 1);
  const count = stats.totalElements !== undefined ? ` · ${stats.totalElements} ${noun}` : "";
  return h("nav", { class: "pager", "aria-label": `Pages of ${noun}` },
    h("button", { type: "button", class: "secondary", disabled: page <= 1, "aria-label": `Previous page of ${noun}`, onclick: () => go(page - 1) }, "‹ Previous"),
    h("span", { class: "page-info" }, `Page ${page} of ${pages}${count}`),
    h("button", { type: "button", class: "secondary", disabled: page >= pages, "aria-label": `Next page of ${noun}`, onclick: () => go(page + 1) }, "Next ›"));
}

// Ask before something that cannot be undone: `box` shows the question with a confirming and a cancel
// button (the confirming one focused, Escape cancels); `work` runs on confirmation.
export function confirmIn(box, question, yes, work) {
  const cancel = () => replace(box);
  const ok = h("button", { type: "button", class: "danger", onclick: async () => {
    ok.disabled = true;
    try {
      await work();
    } finally {
      replace(box);
    }
  } }, yes);
  const el = h("div", { class: "confirm", role: "alertdialog", "aria-label": question,
    onkeydown: (event) => event.key === "Escape" && cancel() },
    h("span", {}, question), ok, h("button", { type: "button", class: "secondary", onclick: cancel }, "Cancel"));
  replace(box, el);
  ok.focus();
}

// An action button of a page that writes: disabled (with the reason as its title) when the roles lack it.
// `why` (optional) says why when it is not the roles.
export function writeButton(allowed, { why, ...props }, label) {
  return h("button", { type: "button", class: "secondary", ...props, disabled: !allowed || props.disabled,
    title: allowed ? props.title : why || "Your roles do not allow this" }, label);
}
