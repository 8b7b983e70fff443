// What the agent's clicks and keys do: each action becomes one protocol message (with a ref,
// so a refusal comes back to the right place) or one API call. The store changes when the
// server's events say so, not when we hope so; only replies are shown before their ack.

import { api } from "./api.js";
import { byId } from "./dom.js";
import { setLanguage, t, tOr } from "./i18n.js";
import { errorText } from "./format.js";
import { toast } from "./views/toasts.js";

const TYPING_EVERY_MS = 2000;
const COLLEAGUES_FRESH_MS = 5000;
const CUSTOMER_FRESH_MS = 30_000;
const RETRY_LOAD_MS = 5000;

/** History order: newest first, ties by id, as the server pages it. */
function newestFirst(a, b) {
  return Date.parse(b.created_at) - Date.parse(a.created_at) || b.id - a.id;
}

export class Controller {
  constructor(store, socket, { onLogout }) {
    this.store = store;
    this.socket = socket;
    this.onLogout = onLogout;
    this.colleaguesAt = 0;
  }

  rerender() {
    this.store.changed();
  }

  /** Send a message now, or tell the agent we are not connected (false). */
  send(message) {
    if (this.socket.send(message)) return true;
    toast(t("notice.not_connected"), "error");
    this.store.changed(); // put selectors back to what the server last said
    return false;
  }

  // -- presence and offers ----------------------------------------------------------------

  setPresence({ state, reason }) {
    this.send({ type: "state", state, ...(reason ? { reason } : {}), ref: "state" });
  }

  accept(id) {
    const offer = this.store.offers.get(id);
    if (!offer || offer.busy) return;
    if (this.send({ type: "accept", interaction_id: id, ref: `accept:${id}` })) offer.busy = true;
    this.store.changed();
  }

  reject(id) {
    const offer = this.store.offers.get(id);
    if (!offer || offer.busy) return;
    if (this.send({ type: "reject", interaction_id: id, ref: `reject:${id}` })) offer.busy = true;
    this.store.changed();
  }

  setLanguage(lang) {
    setLanguage(lang, { remember: true });
  }

  select(id) {
    this.saveDrafts();
    this.store.select(id);
  }

  // -- writing ----------------------------------------------------------------------------

  saveDrafts() {
    const conversation = this.store.active;
    if (!conversation) return;
    conversation.drafts.reply = byId("reply-input").value;
    conversation.drafts.note = byId("note-input").value;
  }

  sendReply() {
    const conversation = this.store.active;
    const input = byId("reply-input");
    const text = input.value.trim();
    if (!conversation || !text) return;
    const pending = this.store.addPending(conversation, text);
    input.value = "";
    conversation.drafts.reply = "";
    this.transmitReply(conversation, pending);
  }

  /** (Re)send a reply under its client_msg_id: however often it goes out, it is stored once. */
  transmitReply(conversation, pending) {
    const sent = this.socket.send({
      type: "reply", interaction_id: conversation.id, text: pending.text,
      client_msg_id: pending.clientMsgId, ref: `reply:${pending.clientMsgId}`,
    });
    pending.status = sent ? "sending" : "queued"; // queued ones go out after the next hello
    pending.error = null;
    this.store.changed();
  }

  /** After every hello: replies without an ack go out again. */
  resendUnacknowledged() {
    for (const [conversation, pending] of this.store.unacknowledged()) this.transmitReply(conversation, pending);
  }

  retryReply(conversation, pending) {
    this.transmitReply(conversation, pending);
  }

  discardReply(conversation, pending) {
    conversation.pending.delete(pending.clientMsgId);
    this.store.changed();
  }

  agentTyping() {
    const conversation = this.store.active;
    if (!conversation || conversation.interaction.channel !== "chat" || conversation.interaction.state !== "assigned") return;
    if (!byId("reply-input").value.trim()) return;
    const now = Date.now();
    if (now - conversation.lastTypingSentAt < TYPING_EVERY_MS) return;
    if (this.socket.send({ type: "typing", interaction_id: conversation.id, ref: "typing" })) {
      conversation.lastTypingSentAt = now;
    }
  }

  sendNote() {
    const conversation = this.store.active;
    const input = byId("note-input");
    const text = input.value.trim();
    if (!conversation || !text) return;
    // notes have no client id to deduplicate a resend, so they go only over a live connection
    if (!this.send({ type: "note", interaction_id: conversation.id, text, ref: `note:${conversation.id}` })) return;
    input.value = "";
    conversation.drafts.note = "";
  }

  insertCanned(id) {
    const canned = this.store.settings.canned_responses.find((c) => c.id === id);
    const input = byId("reply-input");
    if (!canned || input.disabled) return;
    const start = input.selectionStart ?? input.value.length;
    const end = input.selectionEnd ?? input.value.length;
    input.setRangeText(canned.text, start, end, "end");
    input.focus();
    this.saveDrafts();
  }

  // -- handing over and finishing ---------------------------------------------------------

  transfer() {
    const conversation = this.store.active;
    if (!conversation) return;
    const queue = byId("transfer-queue").value;
    const agent = byId("transfer-agent").value;
    if (!queue && !agent) {
      toast(t("transfer.choose"), "error");
      return;
    }
    const target = agent ? { agent } : { queue };
    if (this.send({ type: "transfer", interaction_id: conversation.id, ...target, ref: `transfer:${conversation.id}` })) {
      conversation.busy = "transfer";
      byId("transfer-queue").value = byId("transfer-agent").value = "";
      this.store.changed();
    }
  }

  /** Colleagues for the transfer picker and for naming their notes; refreshed when the picker opens. */
  async loadColleagues({ force = false } = {}) {
    if (!force && Date.now() - this.colleaguesAt < COLLEAGUES_FRESH_MS) return;
    this.colleaguesAt = Date.now();
    try {
      this.store.colleagues = await api.agents();
      this.store.changed();
    } catch (err) {
      this.colleaguesAt = 0;
      if (err.status === 401) this.onLogout({ expired: true });
    }
  }

  wrapUp() {
    const conversation = this.store.active;
    if (!conversation) return;
    const disposition = byId("wrapup-disposition").value;
    if (!disposition) {
      toast(t("wrapup.choose"), "error");
      return;
    }
    const notes = byId("wrapup-notes").value.trim();
    const message = { type: "wrapup", interaction_id: conversation.id, disposition, ref: `wrapup:${conversation.id}` };
    if (notes) message.notes = notes;
    if (this.send(message)) {
      conversation.busy = "wrapup";
      byId("wrapup-notes").value = "";
      byId("wrapup-disposition").value = "";
      this.store.changed();
    }
  }

  close() {
    const conversation = this.store.active;
    if (!conversation) return;
    if (this.send({ type: "close", interaction_id: conversation.id, ref: `close:${conversation.id}` })) {
      conversation.busy = "close";
      this.store.changed();
    }
  }

  async logout() {
    if (this.store.presence.state === "available") {
      this.socket.send({ type: "state", state: "offline", reason: "logout", ref: "state" }); // no new offers
    }
    try {
      await api.logout();
    } catch {
      // the cookie is gone from this browser either way once the server answers; nothing to add
    }
    this.onLogout({ expired: false });
  }

  // -- what the server told us ------------------------------------------------------------

  notify(notice) {
    if (!notice) return;
    switch (notice.kind) {
      case "offer_gone":
        toast(t("notice.offer_gone", { reason: tOr(`revoke.${notice.reason}`, notice.reason) }));
        break;
      case "revoked":
        toast(t("notice.revoked", {
          name: notice.name || t("customer.anonymous"),
          reason: tOr(`revoke.${notice.reason}`, notice.reason),
        }));
        break;
      case "delivery_failed":
        toast(t("notice.delivery_failed", { name: notice.name || t("customer.anonymous") }), "error");
        break;
      case "error":
        toast(errorText(notice.code, notice.message), "error");
        break;
      default:
        break;
    }
  }

  // -- loading what the open conversation needs -------------------------------------------

  /** Called after every render and every 250 ms: fetch what the open conversation lacks. */
  maintain() {
    const conversation = this.store.active;
    if (!conversation) return;
    const now = Date.now();
    if (conversation.loaded === "no" && now >= (conversation.retryAt ?? 0)) this.loadTranscript(conversation);
    const customerId = conversation.interaction.customer?.id;
    if (customerId) {
      const record = this.store.customers.get(customerId);
      if (!record || (!record.loading && now - record.fetchedAt > (record.error ? RETRY_LOAD_MS : CUSTOMER_FRESH_MS))) {
        this.loadCustomer(customerId);
      }
    }
  }

  async loadTranscript(conversation) {
    conversation.loaded = "loading";
    try {
      const data = await api.interaction(conversation.id);
      this.store.loadTranscript(conversation.id, data);
    } catch (err) {
      conversation.loaded = "no";
      conversation.loadError = err.code;
      conversation.retryAt = Date.now() + RETRY_LOAD_MS;
      this.store.changed();
      if (err.status === 401) this.onLogout({ expired: true });
    }
  }

  async loadCustomer(customerId) {
    const record = this.store.customers.get(customerId) ?? { profile: null, history: [], next: null, version: 0 };
    Object.assign(record, { loading: true, fetchedAt: Date.now() });
    this.store.customers.set(customerId, record);
    try {
      const [profile, history] = await Promise.all([api.customer(customerId), api.history(customerId)]);
      // a refresh brings the newest page; pages the agent already loaded further back stay
      const fresh = new Set(history.touchpoints.map((tp) => tp.id));
      const older = record.pages > 1 ? record.history.filter((tp) => !fresh.has(tp.id)) : [];
      Object.assign(record, {
        profile: profile.customer,
        history: [...history.touchpoints, ...older].sort(newestFirst),
        next: record.pages > 1 ? record.next : history.next,
        pages: Math.max(record.pages ?? 1, 1),
        error: null,
      });
    } catch (err) {
      record.error = err.code;
      if (err.status === 401) this.onLogout({ expired: true });
    }
    record.loading = false;
    record.fetchedAt = Date.now();
    record.version += 1;
    this.store.changed();
  }

  async loadMoreHistory() {
    const customerId = this.store.active?.interaction.customer?.id;
    const record = customerId ? this.store.customers.get(customerId) : null;
    if (!record?.next || record.loading) return;
    record.loading = true;
    record.version += 1;
    this.store.changed();
    try {
      const page = await api.history(customerId, record.next);
      const seen = new Set(record.history.map((tp) => tp.id));
      record.history.push(...page.touchpoints.filter((tp) => !seen.has(tp.id)));
      record.next = page.next;
      record.pages = (record.pages ?? 1) + 1;
    } catch (err) {
      toast(errorText(err.code, err.message), "error");
    }
    record.loading = false;
    record.version += 1;
    this.store.changed();
  }
}
