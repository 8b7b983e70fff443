// Line charts of the last hour, drawn as inline SVG with DOM calls (no library, no markup strings).
//
// One line per queue; colours come from CSS classes (series-0 ... series-5), so the strict
// CSP needs no inline style. Values that are unknown (a service level over no contacts)
// break the line instead of pretending to be zero.

import { h } from "../dom.js";
import { t } from "../i18n.js";

const SVG_NS = "http://www.w3.org/2000/svg";
const WIDTH = 480;
const HEIGHT = 150;
const PAD = { left: 34, right: 8, top: 8, bottom: 18 };
const HOUR_S = 3600;

function svg(tag, attrs = {}) {
  const el = document.createElementNS(SVG_NS, tag);
  for (const [key, value] of Object.entries(attrs)) el.setAttribute(key, String(value));
  return el;
}

function text(x, y, content, cls) {
  const el = svg("text", { x, y, class: cls });
  el.textContent = content;
  return el;
}

/**
 * A chart element: series [{name, label, points: [[at, value|null]]}], x over [now - 1 h, now],
 * y over [0, yMax]; guides: dashed horizontal lines (targets), each {value, series} where series is
 * the index of the line it belongs to (drawn in that line's colour) or null for one shared by all;
 * yLabel(v) for ticks.
 */
export function lineChart({ series, now, yMax, guides = [], yLabel = String, title, testid }) {
  const root = svg("svg", { viewBox: `0 0 ${WIDTH} ${HEIGHT}`, class: "chart", role: "img", "aria-label": title });
  root.dataset.testid = testid;
  const plotW = WIDTH - PAD.left - PAD.right;
  const plotH = HEIGHT - PAD.top - PAD.bottom;
  const x = (at) => PAD.left + ((at - (now - HOUR_S)) / HOUR_S) * plotW;
  const y = (v) => PAD.top + plotH - (Math.min(v, yMax) / yMax) * plotH;

  for (const fraction of [0, 0.5, 1]) {
    const value = yMax * fraction;
    root.append(svg("line", { x1: PAD.left, x2: WIDTH - PAD.right, y1: y(value), y2: y(value), class: "chart-grid" }));
    root.append(text(PAD.left - 4, y(value) + 3, yLabel(value), "chart-tick chart-tick-y"));
  }
  for (const minutesAgo of [60, 30, 0]) {
    root.append(text(x(now - minutesAgo * 60), HEIGHT - 4, minutesAgo ? `-${minutesAgo}′` : "0", "chart-tick"));
  }
  for (const guide of guides) {
    const cls = guide.series === null ? "chart-guide" : `chart-guide series-${guide.series % 6}`;
    const at = y(guide.value);
    root.append(svg("line", { x1: PAD.left, x2: WIDTH - PAD.right, y1: at, y2: at, class: cls }));
  }
  series.forEach((s, index) => {
    let run = [];
    const flush = () => {
      if (run.length === 1) {
        root.append(svg("circle", { cx: run[0][0], cy: run[0][1], r: 2, class: `chart-dot series-${index % 6}` }));
      } else if (run.length > 1) {
        const points = run.map(([px, py]) => `${px.toFixed(1)},${py.toFixed(1)}`).join(" ");
        root.append(svg("polyline", { points, class: `chart-line series-${index % 6}` }));
      }
      run = [];
    };
    for (const [at, value] of s.points) {
      if (at < now - HOUR_S) continue;
      if (value === null || value === undefined) flush();
      else run.push([x(at), y(value)]);
    }
    flush();
  });
  return root;
}

/** The legend under a chart: one swatch and label per series, in the same colour classes. */
export function legend(series) {
  const list = document.createElement("ul");
  list.className = "chart-legend";
  series.forEach((s, index) => {
    const item = document.createElement("li");
    const swatch = document.createElement("span");
    swatch.className = `chart-swatch series-${index % 6}`;
    item.append(swatch, s.label);
    list.append(item);
  });
  return list;
}

/**
 * The supervisor's two figures: waiting per queue, and service level (15 min) per queue against
 * the target, over the samples of the last hour plus the live point of ``data``.
 */
export function queueCharts(data, history) {
  const now = data.at;
  const points = (pick) => data.queues.map((q) => ({
    label: q.label,
    points: [...history.map((s) => [s.at, pick(s.queues[q.queue])]), [now, pick(q)]],
  }));
  const depth = points((x) => (x ? x.waiting : null));
  const level = points((x) => {
    const value = x ? (x.window ? x.window.service_level : x.service_level) : null;
    return value === null || value === undefined ? null : value * 100;
  });
  const peak = Math.max(5, ...depth.flatMap((s) => s.points.map(([, v]) => v ?? 0)));
  // Each queue has its own service-level goal: one red line when they all agree, else one line per
  // queue in that queue's colour (a single line would judge every queue by the first one's goal).
  const targets = data.queues.map((q) => q.service_level_target * 100);
  const guides = new Set(targets).size <= 1
    ? targets.slice(0, 1).map((value) => ({ value, series: null }))
    : targets.map((value, index) => ({ value, series: index }));
  const figure = (key, chart, series) => h("figure", { class: "sup-chart" },
    h("figcaption", { class: "section-title", text: t(key) }), chart, legend(series));
  return [
    figure("sup.chart_depth", lineChart({ series: depth, now, yMax: Math.ceil(peak), title: t("sup.chart_depth"),
                                          testid: "chart-depth", yLabel: (v) => String(Math.round(v)) }), depth),
    figure("sup.chart_sl", lineChart({ series: level, now, yMax: 100, guides, title: t("sup.chart_sl"),
                                       testid: "chart-sl", yLabel: (v) => `${Math.round(v)}%` }), level),
  ];
}
