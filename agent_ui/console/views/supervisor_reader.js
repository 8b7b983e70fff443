// Reading a live conversation silently: the supervisor sees the transcript, the customer and
// the agent see nothing. The page polls GET /api/interactions/{id} every 2 s while the panel
// is open (the same read the agent console uses; supervisors may read every customer), and
// stops when it is closed. Text goes in through textContent only.

import { api } from "../api.js";
import { h, icon, syncChildren } from "../dom.js";
import { t } from "../i18n.js";
import { authorName, describeEvent, errorText, shortTime } from "../format.js";

const POLL_MS = 2000;
const SPOKEN = new Set(["inbound_message", "outbound_message", "note"]);

export class ChatReader {
  /** settings(): {queues, dispositions} for labels; colleagues(): [{id, display_name}] for authors. */
  constructor({ settings, colleagues }) {
    this.settings = settings;
    this.colleagues = colleagues;
    this.id = null;
    this.timer = null;
    this.nodes = new Map(); // touchpoint id -> element
    this.title = h("h3", { class: "reader-title", testid: "reader-title" });
    this.status = h("p", { class: "reader-status", role: "status" });
    this.list = h("ol", { class: "reader-list", testid: "reader-transcript", "aria-live": "polite" });
    this.closeButton = h("button", { type: "button", class: "btn btn-ghost", testid: "reader-close",
                                     "data-i18n": "sup.reader_close", onclick: () => this.close() });
    this.root = h(
      "section",
      { class: "reader", testid: "chat-reader", hidden: true },
      h("header", { class: "reader-head" }, icon("lock"), this.title, this.closeButton),
      h("p", { class: "muted reader-hint", "data-i18n": "sup.reader_hint" }),
      this.status,
      this.list,
    );
  }

  open(interactionId) {
    if (this.id !== interactionId) {
      this.nodes.clear();
      this.list.replaceChildren();
    }
    this.id = interactionId;
    this.root.hidden = false;
    this.title.textContent = t("sup.reader_title", { id: interactionId.slice(0, 8) });
    this.status.textContent = t("transcript.loading");
    clearTimeout(this.timer);
    this.poll();
  }

  close() {
    this.id = null;
    clearTimeout(this.timer);
    this.root.hidden = true;
  }

  async poll() {
    const id = this.id;
    if (!id) return;
    try {
      const data = await api.interaction(id);
      if (this.id !== id) return;
      this.render(data);
      this.status.textContent = "";
    } catch (err) {
      if (this.id !== id) return;
      this.status.textContent = errorText(err.code, err.message);
    }
    this.timer = setTimeout(() => this.poll(), POLL_MS);
  }

  render(data) {
    const nodes = [];
    for (const tp of data.touchpoints) {
      let node = this.nodes.get(tp.id);
      if (!node) {
        node = this.build(tp);
        this.nodes.set(tp.id, node);
      }
      nodes.push(node);
    }
    const stuck = this.list.scrollHeight - this.list.scrollTop - this.list.clientHeight < 24;
    syncChildren(this.list, nodes);
    if (stuck) this.list.scrollTop = this.list.scrollHeight;
  }

  build(tp) {
    const time = h("time", { class: "reader-time", text: shortTime(tp.created_at) });
    if (!SPOKEN.has(tp.kind)) {
      return h("li", { class: "reader-event", testid: "reader-msg", data: { kind: tp.kind } },
        describeEvent(tp, this.settings()), " · ", time);
    }
    const author = authorName(tp, t("msg.customer"), null, this.colleagues());
    return h(
      "li",
      { class: `reader-msg reader-msg--${tp.actor_kind}${tp.kind === "note" ? " reader-msg--note" : ""}`,
        testid: "reader-msg", data: { kind: tp.kind } },
      h("div", { class: "reader-meta" }, h("span", { class: "reader-author", text: author }),
        tp.kind === "note" ? h("span", { class: "note-tag", text: t("note.internal") }) : null, time),
      h("div", { class: "reader-body", text: tp.body ?? "" }),
    );
  }
}
