// Building DOM without ever parsing HTML.
//
// Every piece of text goes in through textContent or a Text node (Element.append with a
// string makes one), so customer and agent text can never become markup. Nothing in the
// console uses innerHTML, outerHTML, insertAdjacentHTML or document.write; tests check it.

const SVG_NS = "http://www.w3.org/2000/svg";

/**
 * Make an element. props: class (string or array), text, testid (data-testid), data
 * (dataset), on<event> handlers, anything else as an attribute. Children: nodes or strings.
 */
export function h(tag, props = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "class") el.className = Array.isArray(value) ? value.filter(Boolean).join(" ") : value;
    else if (key === "text") el.textContent = String(value);
    else if (key === "testid") el.dataset.testid = value;
    else if (key === "data") Object.assign(el.dataset, value);
    else if (key.startsWith("on")) el.addEventListener(key.slice(2), value);
    else el.setAttribute(key, value === true ? "" : String(value));
  }
  el.append(...children.flat().filter((c) => c !== null && c !== undefined && c !== false));
  return el;
}

/** The element with this id; a missing one is a bug in index.html, so say which. */
export function byId(id) {
  const el = document.getElementById(id);
  if (!el) throw new Error(`index.html has no #${id}`);
  return el;
}

/**
 * Fill a <select> with [{value, label, disabled?}] and keep the chosen value if it is still
 * offered, so rebuilding options (new agents, a language switch) never loses a choice.
 */
export function setOptions(select, options) {
  const chosen = select.value;
  select.replaceChildren(
    ...options.map((o) => h("option", { value: o.value, disabled: o.disabled, text: o.label })),
  );
  if (options.some((o) => o.value === chosen)) select.value = chosen;
}

/** Make a list's children exactly these nodes, in order, touching the DOM only if needed. */
export function syncChildren(parent, nodes) {
  const current = parent.children;
  const same = current.length === nodes.length && nodes.every((n, i) => current[i] === n);
  if (!same) parent.replaceChildren(...nodes);
}

// Stroke icons on a 24px grid, drawn for this console. Only these fixed path strings ever
// reach the SVG; no data does.
const ICONS = {
  chat: ["M4 5h16v11H10l-6 4z"],
  email: ["M3 6h18v12H3z", "M3 7l9 6 9-6"],
  sms: ["M7 3h10v18H7z", "M10 7h4", "M10 10.5h4", "M11 18h2"],
  voice: ["M5 4h4l2 5-2.5 1.5a11 11 0 0 0 5 5L15 13l5 2v4a1 1 0 0 1-1 1A16 16 0 0 1 4 5a1 1 0 0 1 1-1z"],
  sip: ["M5 4h4l2 5-2.5 1.5a11 11 0 0 0 5 5L15 13l5 2v4a1 1 0 0 1-1 1A16 16 0 0 1 4 5a1 1 0 0 1 1-1z"],
  phone: ["M7 3h10v18H7z", "M11 18h2"],
  note: ["M4 20h4L19 9l-4-4L4 16z", "M13 7l4 4"],
  lock: ["M6 11h12v9H6z", "M9 11V8a3 3 0 0 1 6 0v3"],
  info: ["M12 3a9 9 0 1 0 0 18a9 9 0 1 0 0-18z", "M12 11v5", "M12 8h.01"],
  send: ["M4 12l16-8-6 16-3-7z", "M11 13l9-9"],
  transfer: ["M4 8h14", "M14 4l4 4-4 4", "M20 16H6", "M10 12l-4 4 4 4"],
  check: ["M5 12l5 5L20 7"],
  logout: ["M10 4H5v16h5", "M15 8l4 4-4 4", "M19 12H9"],
  user: ["M12 4a4 4 0 1 0 0 8a4 4 0 1 0 0-8z", "M4 20c1-4 4-6 8-6s7 2 8 6"],
  alert: ["M12 3l10 18H2z", "M12 10v5", "M12 18h.01"],
  clock: ["M12 3a9 9 0 1 0 0 18a9 9 0 1 0 0-18z", "M12 7v5l3 2"],
  web: ["M12 3a9 9 0 1 0 0 18a9 9 0 1 0 0-18z", "M3 12h18", "M12 3c3 3 3 15 0 18", "M12 3c-3 3-3 15 0 18"],
};

/** An inline SVG icon (decorative: hidden from screen readers, the label beside it says it). */
export function icon(name, extraClass = "") {
  const svg = document.createElementNS(SVG_NS, "svg");
  svg.setAttribute("viewBox", "0 0 24 24");
  svg.setAttribute("class", `icon ${extraClass}`.trim());
  svg.setAttribute("aria-hidden", "true");
  for (const d of ICONS[name] ?? ICONS.info) {
    const path = document.createElementNS(SVG_NS, "path");
    path.setAttribute("d", d);
    svg.append(path);
  }
  return svg;
}
