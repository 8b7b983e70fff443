// The supervisor view: live queue tiles, the last hour's charts, alerts, the agents and the
// waiting interactions, with the actions a supervisor takes (set an agent's status, move an
// interaction, read a chat silently). Shown to supervisors and admins beside the agent view.
//
// Everything comes from /supervisor/ws (a snapshot, then whole-state updates at most once a
// second) plus GET /api/metrics/agents for names; times that tick (longest wait, time in
// state) are computed here every second from the server's timestamps and its clock offset.

import { api } from "../api.js";
import { byId, h, icon, setOptions, syncChildren } from "../dom.js";
import { language, t, tOr } from "../i18n.js";
import { channelIcon, channelLabel, errorText, reasonLabel } from "../format.js";
import { queueCharts } from "./supervisor_charts.js";
import { ChatReader } from "./supervisor_reader.js";
import { SupervisorSocket } from "./supervisor_socket.js";
import { toast } from "./toasts.js";

const ROLES = new Set(["supervisor", "admin"]);
const STATES = ["available", "busy", "wrap_up", "away", "offline"];
const HISTORY_POINTS = 180;
const DIRECTORY_FRESH_MS = 5000;
const MODE_KEY = "cc.console.mode";

/** "42 s", "3 min 05 s", "2 h 10 min": a duration in the current language. */
export function duration(seconds) {
  if (seconds === null || seconds === undefined || Number.isNaN(seconds)) return t("sup.none");
  const s = Math.max(0, Math.floor(seconds));
  if (s < 60) return t("sup.duration_s", { s });
  if (s < 3600) return t("sup.duration_m", { m: Math.floor(s / 60), s: String(s % 60).padStart(2, "0") });
  return t("sup.duration_h", { h: Math.floor(s / 3600), m: Math.floor((s % 3600) / 60) });
}

function remembered() {
  try {
    return window.localStorage.getItem(MODE_KEY);
  } catch {
    return null;
  }
}

function percent(ratio) {
  return ratio === null || ratio === undefined ? t("sup.none") : `${Math.round(ratio * 1000) / 10}%`;
}

export class SupervisorView {
  /** settings(): the console settings from hello (queues, away reasons); onSessionLost(): back to sign-in. */
  constructor({ settings, onSessionLost }) {
    this.settings = settings;
    this.data = null;
    this.history = [];
    this.skewMs = 0;
    this.directory = new Map(); // agent id -> {login, display_name, role, presence, reason, since}
    this.directoryAt = 0;
    this.mode = "agent";
    this.allowed = false;
    this.tiles = new Map();
    this.agentRows = new Map();
    this.waitingRows = new Map();
    this.socket = new SupervisorSocket({
      onMessage: (message) => this.receive(message),
      onStatus: (status) => this.setStatus(status),
      onSessionLost,
      onForbidden: () => this.signedIn({ role: "agent" }),
    });
    this.reader = new ChatReader({
      settings: () => this.settings(),
      colleagues: () => [...this.directory.entries()].map(([id, a]) => ({ id, display_name: a.display_name })),
    });
    this.build();
    byId("mode-agent").addEventListener("click", () => this.setMode("agent"));
    byId("mode-supervisor").addEventListener("click", () => this.setMode("supervisor"));
    setInterval(() => this.tick(), 1000);
  }

  // -- session and mode -------------------------------------------------------------------

  signedIn(profile) {
    this.allowed = ROLES.has(profile?.role);
    byId("mode-switch").hidden = !this.allowed;
    if (!this.allowed) {
      this.signedOut();
      return;
    }
    this.socket.start();
    this.setMode(remembered() === "supervisor" ? "supervisor" : "agent", { remember: false });
  }

  signedOut() {
    this.socket.stop();
    this.reader.close();
    this.data = null;
    this.history = [];
    this.setMode("agent", { remember: false });
  }

  setMode(mode, { remember = true } = {}) {
    this.mode = this.allowed ? mode : "agent";
    if (remember && this.allowed) {
      try {
        window.localStorage.setItem(MODE_KEY, this.mode);
      } catch {
        // not remembered across reloads; switched now all the same
      }
    }
    byId("app").dataset.mode = this.mode;
    byId("mode-agent").setAttribute("aria-pressed", String(this.mode === "agent"));
    byId("mode-supervisor").setAttribute("aria-pressed", String(this.mode === "supervisor"));
    if (this.mode === "supervisor") {
      this.loadDirectory(true);
      this.render();
    }
  }

  setStatus(status) {
    this.status.dataset.status = status;
    this.statusText.textContent = t(`connection.${status}`);
  }

  // -- what the server says ---------------------------------------------------------------

  receive(message) {
    if (message.type === "alert") {
      const a = message.alert;
      toast(this.alertText(a), a.status === "raised" ? "error" : "info");
      if (this.data) {
        this.data.alerts = this.data.alerts.filter((x) => x.id !== a.id);
        if (a.status === "raised") this.data.alerts.push(a);
      }
      this.render();
      return;
    }
    if (message.type !== "snapshot" && message.type !== "update") return;
    this.skewMs = message.at * 1000 - Date.now();
    if (message.type === "snapshot") this.history = [...(message.history ?? [])];
    else if (message.sample) this.history.push(message.sample);
    if (this.history.length > HISTORY_POINTS) this.history.splice(0, this.history.length - HISTORY_POINTS);
    this.data = message;
    if (message.agents.some((a) => !this.directory.has(a.agent_id))) this.loadDirectory();
    this.render();
  }

  async loadDirectory(force = false) {
    if (!force && Date.now() - this.directoryAt < DIRECTORY_FRESH_MS) return;
    this.directoryAt = Date.now();
    try {
      const { agents } = await api.supervisorAgents();
      this.directory = new Map(agents.map((a) => [a.agent_id, a]));
      this.render();
    } catch (err) {
      if (err.status !== 401) toast(errorText(err.code, err.message), "error");
    }
  }

  serverNow() {
    return (Date.now() + this.skewMs) / 1000;
  }

  alertText(a) {
    const queue = this.queueLabel(a.queue);
    if (a.status === "cleared") return t("sup.alert_cleared", { queue });
    return a.kind === "waiting"
      ? t("sup.alert_waiting", { queue, value: a.value, threshold: a.threshold })
      : t("sup.alert_service_level", { queue, value: percent(a.value), threshold: percent(a.threshold) });
  }

  queueLabel(name) {
    return this.data?.queues.find((q) => q.queue === name)?.label ?? name;
  }

  agentName(id) {
    const a = this.directory.get(id);
    return a ? a.display_name || a.login : id.slice(0, 8);
  }

  // -- actions ----------------------------------------------------------------------------

  async setAgentState(agentId, value) {
    if (!value) return;
    const [state, reason] = value.split(":");
    try {
      await api.setAgentState(agentId, state, reason || (state === "available" ? null : "supervisor"));
      toast(t("sup.state_set", { name: this.agentName(agentId), state: tOr(`state.${state}`, state) }));
    } catch (err) {
      toast(errorText(err.code, err.message), "error");
    }
    this.loadDirectory(true);
  }

  async move(interactionId, queue) {
    if (!queue) {
      toast(t("sup.move_choose"), "error");
      return;
    }
    try {
      await api.moveInteraction(interactionId, queue);
      toast(t("sup.moved", { queue: this.queueLabel(queue) }));
    } catch (err) {
      toast(errorText(err.code, err.message), "error");
    }
  }

  // -- the page ---------------------------------------------------------------------------

  build() {
    this.statusText = h("span", { class: "connection-text" });
    this.status = h("span", { class: "connection", testid: "supervisor-status", data: { status: "offline" } },
      h("span", { class: "connection-dot", "aria-hidden": "true" }), this.statusText);
    const report = (by) => h("a", { class: "btn btn-ghost", href: `/api/reports/daily.csv?by=${by}`, download: "",
                                    testid: `report-${by}`, "data-i18n": `sup.report_${by}` });
    this.alertList = h("ul", { class: "sup-alerts", testid: "supervisor-alerts" });
    this.tileGrid = h("div", { class: "sup-tiles" });
    this.charts = h("div", { class: "sup-charts" });
    this.agentBody = h("tbody");
    this.waitingList = h("ol", { class: "sup-waiting" });
    this.waitingEmpty = h("p", { class: "empty", "data-i18n": "sup.no_waiting" });
    const column = (key) => h("th", { scope: "col", "data-i18n": key });
    byId("supervisor").append(
      h("header", { class: "sup-head" }, h("h1", { "data-i18n": "sup.title" }), this.status,
        h("span", { class: "sup-reports" }, h("span", { class: "muted", "data-i18n": "sup.reports" }),
          report("queue"), report("agent"))),
      this.alertList,
      this.tileGrid,
      this.charts,
      h("div", { class: "sup-columns" },
        h("section", { class: "sup-panel" }, h("h2", { class: "section-title", "data-i18n": "sup.agents" }),
          h("table", { class: "sup-agents", testid: "agent-table" },
            h("thead", {}, h("tr", {}, ...["sup.col_agent", "sup.col_state", "sup.col_time", "sup.col_work",
              "sup.col_occupancy", "sup.col_answered", "sup.col_action"].map(column))),
            this.agentBody)),
        h("section", { class: "sup-panel" }, h("h2", { class: "section-title", "data-i18n": "sup.waiting_list" }),
          this.waitingList, this.waitingEmpty, this.reader.root)),
    );
  }

  render() {
    if (this.mode !== "supervisor") return;
    const data = this.data;
    this.statusText.textContent = t(`connection.${this.status.dataset.status}`);
    byId("mode-alerts").textContent = data?.alerts.length ? String(data.alerts.length) : "";
    if (!data) return;
    this.renderAlerts(data);
    this.renderTiles(data);
    this.renderCharts(data);
    this.renderAgents(data);
    this.renderWaiting(data);
    this.tick();
  }

  renderAlerts(data) {
    syncChildren(this.alertList, data.alerts.map((a) => h("li", {
      class: "sup-alert", testid: "supervisor-alert", data: { alertId: a.id } }, icon("alert"), this.alertText(a))));
  }

  renderTiles(data) {
    const nodes = data.queues.map((q) => {
      let view = this.tiles.get(q.queue);
      if (!view) {
        view = {
          label: h("h3", { class: "tile-label" }),
          waiting: h("span", { class: "metric-value", testid: "tile-waiting" }),
          longest: h("span", { class: "metric-value", testid: "tile-longest" }),
          level: h("span", { class: "metric-value", testid: "tile-sl" }),
          target: h("span", { class: "metric-sub" }),
          agents: h("div", { class: "tile-agents", testid: "tile-agents" }),
          today: h("p", { class: "tile-today", testid: "tile-today" }),
          speed: h("p", { class: "tile-today" }),
        };
        const metric = (value, key, sub) => h("div", { class: "metric" }, value,
          h("span", { class: "metric-label", "data-i18n": key, text: t(key) }), sub);
        view.tile = h("article", { class: "tile", testid: "queue-tile", data: { queue: q.queue } }, view.label,
          h("div", { class: "tile-metrics" }, metric(view.waiting, "sup.waiting"), metric(view.longest, "sup.longest"),
            metric(view.level, "sup.sl", view.target)), view.agents, view.today, view.speed);
        this.tiles.set(q.queue, view);
      }
      view.q = q;
      view.label.textContent = q.label;
      view.waiting.textContent = String(q.waiting);
      const level = q.window.service_level;
      view.level.textContent = percent(level);
      view.level.classList.toggle("is-bad", level !== null && level < q.service_level_target);
      view.target.textContent = t("sup.sl_target", { target: percent(q.service_level_target),
                                                     seconds: q.service_level_threshold_s });
      view.tile.classList.toggle("is-alert", data.alerts.some((a) => a.queue === q.queue));
      view.agents.replaceChildren(...STATES.map((s) => h("span", { class: "chip chip-quiet", data: { state: s } },
        tOr(`activity.${s}`, s), " ", h("b", { text: String(q.agents[s] ?? 0) }))));
      view.today.textContent = t("sup.today_line", { offered: q.today.offered, answered: q.today.answered,
                                                     abandoned: q.today.abandoned });
      view.speed.textContent = t("sup.speed_line", { asa: duration(q.window.asa_s), aht: duration(q.window.aht_s) });
      return view.tile;
    });
    syncChildren(this.tileGrid, nodes);
  }

  renderCharts(data) {
    this.charts.replaceChildren(...queueCharts(data, this.history));
  }

  renderAgents(data) {
    const live = new Map(data.agents.map((a) => [a.agent_id, a]));
    const ids = [...new Set([...this.directory.keys(), ...live.keys()])];
    ids.sort((a, b) => this.agentName(a).localeCompare(this.agentName(b), language()));
    const nodes = ids.map((id) => {
      let view = this.agentRows.get(id);
      if (!view) {
        view = { name: h("td"), state: h("td"), since: h("td", { testid: "agent-since", class: "num" }),
                 work: h("div", { class: "sup-work" }), occupancy: h("td", { class: "num" }),
                 answered: h("td", { class: "num" }), select: h("select", { testid: "agent-state-select" }) };
        view.select.addEventListener("change", () => {
          this.setAgentState(id, view.select.value);
          view.select.value = "";
        });
        view.row = h("tr", { testid: "agent-row", data: { agentId: id } }, view.name, view.state, view.since,
          h("td", {}, view.work), view.occupancy, view.answered, h("td", {}, view.select));
        this.agentRows.set(id, view);
      }
      const account = this.directory.get(id);
      const a = live.get(id) ?? { activity: account?.presence ?? "offline", presence: account?.presence,
                                  reason: account?.reason, since: account?.since, interactions: [] };
      view.a = a;
      view.name.replaceChildren(h("span", { class: "agent-display", text: this.agentName(id) }),
        h("span", { class: "muted", text: account ? ` ${account.login}` : "" }));
      // busy or in wrap-up while set away or offline: say both, the work and the presence
      const presence = a.presence && a.presence !== a.activity && a.presence !== "available"
        && (a.activity === "busy" || a.activity === "wrap_up") ? ` · ${tOr(`state.${a.presence}`, a.presence)}` : "";
      const reason = a.reason ? ` · ${reasonLabel(a.reason)}` : "";
      view.state.replaceChildren(h("span", { class: "chip activity", testid: "agent-activity",
        data: { activity: a.activity }, text: tOr(`activity.${a.activity}`, a.activity) + presence + reason }));
      view.work.replaceChildren(...a.interactions.map((ix) => h("button", {
        type: "button", class: "chip chip-quiet work-chip", testid: "agent-work", data: { interactionId: ix.id },
        title: t("sup.read"), onclick: () => this.reader.open(ix.id) },
      icon(channelIcon(ix.channel)), `${this.queueLabel(ix.queue)} · ${tOr(`istate.${ix.state}`, ix.state)}`)));
      view.occupancy.textContent = percent(a.today?.occupancy ?? null);
      view.answered.textContent = a.today ? String(a.today.answered) : t("sup.none");
      if (document.activeElement !== view.select) {
        setOptions(view.select, [
          { value: "", label: t("sup.set_state") },
          { value: "available", label: t("state.available") },
          { value: "away", label: t("state.away") },
          ...this.settings().away_reasons.map((r) => ({ value: `away:${r}`,
            label: t("state.away_reason", { reason: reasonLabel(r) }) })),
          { value: "offline", label: t("state.offline") },
        ]);
        view.select.value = "";
      }
      return view.row;
    });
    syncChildren(this.agentBody, nodes);
  }

  renderWaiting(data) {
    const queues = data.queues.map((q) => ({ value: q.queue, label: q.label }));
    const nodes = data.waiting.map((w) => {
      let view = this.waitingRows.get(w.id);
      if (!view) {
        view = { channel: h("span", { class: "chip" }), queue: h("span", { class: "chip chip-quiet" }),
                 waited: h("span", { class: "waited num", testid: "waiting-time" }),
                 select: h("select", { testid: "move-queue" }) };
        const move = h("button", { type: "button", class: "btn", testid: "move-submit", "data-i18n": "sup.move",
                                   text: t("sup.move"), onclick: () => this.move(w.id, view.select.value) });
        const read = h("button", { type: "button", class: "btn btn-ghost", testid: "read-chat",
                                   "data-i18n": "sup.read", text: t("sup.read"), onclick: () => this.reader.open(w.id) });
        view.row = h("li", { class: "waiting-row", testid: "waiting-row", data: { interactionId: w.id } },
          view.channel, view.queue, view.waited, view.select, move, read);
        this.waitingRows.set(w.id, view);
      }
      view.w = w;
      view.channel.replaceChildren(icon(channelIcon(w.channel)), channelLabel(w.channel));
      view.queue.textContent = this.queueLabel(w.queue);
      if (document.activeElement !== view.select) {
        setOptions(view.select, [{ value: "", label: t("sup.move_to") },
          ...queues.filter((q) => q.value !== w.queue)]);
      }
      return view.row;
    });
    for (const id of this.waitingRows.keys()) if (!data.waiting.some((w) => w.id === id)) this.waitingRows.delete(id);
    syncChildren(this.waitingList, nodes);
    this.waitingEmpty.hidden = nodes.length > 0;
  }

  /** Every second: the clocks that run without an event (longest wait, time in state, waited). */
  tick() {
    if (this.mode !== "supervisor" || !this.data) return;
    const now = this.serverNow();
    for (const view of this.tiles.values()) {
      const oldest = view.q?.oldest_entered_at;
      view.longest.textContent = oldest ? duration(now - oldest) : t("sup.none");
    }
    for (const view of this.agentRows.values()) {
      view.since.textContent = view.a?.since ? duration(now - view.a.since) : t("sup.none");
    }
    for (const view of this.waitingRows.values()) view.waited.textContent = duration(now - view.w.entered_at);
  }
}
