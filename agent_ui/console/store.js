// What the console knows, and how each server message changes it.
//
// The store holds plain data and never touches the DOM; views read it after every change.
// Server messages are applied in order by apply(); the hello snapshot rebuilds everything
// that may have changed while the console was away.

const MESSAGE_KINDS = new Set(["inbound_message", "outbound_message"]);
export const TYPING_SHOWN_MS = 5000;

export function newClientMsgId() {
  // crypto.randomUUID needs a secure context; getRandomValues works on plain-http intranets too.
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

function conversationFor(interaction) {
  return {
    id: interaction.id,
    interaction,
    touchpoints: new Map(), // touchpoint id -> touchpoint, from the API and from events
    pending: new Map(), // client_msg_id -> {clientMsgId, text, status, error, createdAt}
    delivery: new Map(), // outbound touchpoint id -> {status, error}
    loaded: "no", // "no" | "loading" | "yes": the transcript from GET /api/interactions/{id}
    loadError: null,
    unread: 0,
    typingUntil: 0,
    lastTypingSentAt: 0,
    drafts: { reply: "", note: "" },
    busy: null, // an action sent and not yet answered ("transfer", "wrapup", "close")
  };
}

export class Store {
  constructor() {
    this.listeners = new Set();
    this.queued = false;
    this.reset();
  }

  reset() {
    this.agent = null;
    this.presence = { state: "offline", reason: null };
    this.settings = { queues: [], dispositions: [], canned_responses: [], away_reasons: [], language: null };
    this.connection = "offline";
    this.offers = new Map(); // interaction id -> {interaction, expiresAt, receivedAt, busy}
    this.conversations = new Map(); // interaction id -> conversation, in arrival order
    this.activeId = null;
    this.customers = new Map(); // customer id -> {profile, error, history, next, loading, fetchedAt}
    this.colleagues = [];
    this.changed();
  }

  subscribe(listener) {
    this.listeners.add(listener);
  }

  /** Views re-render once per burst of changes (a replay can bring hundreds of events). */
  changed() {
    if (this.queued) return;
    this.queued = true;
    queueMicrotask(() => {
      this.queued = false;
      for (const listener of this.listeners) listener(this);
    });
  }

  get active() {
    return this.activeId ? this.conversations.get(this.activeId) ?? null : null;
  }

  select(id) {
    const conversation = this.conversations.get(id);
    if (!conversation) return;
    this.activeId = id;
    conversation.unread = 0;
    this.changed();
  }

  setConnection(status) {
    this.connection = status;
    this.changed();
  }

  // -- the server's messages --------------------------------------------------------------

  applyHello(hello) {
    this.agent = hello.agent;
    this.presence = { state: hello.state, reason: hello.reason ?? null };
    this.settings = {
      queues: hello.queues ?? [],
      dispositions: hello.dispositions ?? [],
      canned_responses: hello.canned_responses ?? [],
      away_reasons: hello.away_reasons ?? [],
      language: hello.language ?? null,
    };
    if (!hello.resumed) this.rebuild(hello);
    this.changed();
  }

  /** Replace offers and conversations by the snapshot, keeping drafts and unsent replies. */
  rebuild(hello) {
    const now = Date.now();
    this.offers = new Map(
      (hello.offers ?? []).map((o) => [o.interaction.id, this.offerEntry(o.interaction, o.expires_at, now)]),
    );
    const previous = this.conversations;
    this.conversations = new Map();
    for (const interaction of hello.interactions ?? []) {
      const conversation = previous.get(interaction.id) ?? conversationFor(interaction);
      conversation.interaction = interaction;
      conversation.loaded = "no"; // messages may have arrived while we were away
      conversation.busy = null;
      this.conversations.set(interaction.id, conversation);
    }
    if (!this.conversations.has(this.activeId)) this.activeId = this.conversations.keys().next().value ?? null;
  }

  offerEntry(interaction, expiresAt, now) {
    const expires = expiresAt ? Date.parse(expiresAt) : NaN;
    return { interaction, expiresAt: Number.isNaN(expires) ? null : expires, receivedAt: now, busy: false };
  }

  /** Apply one event; returns a short description of anything the agent should be told. */
  apply(message) {
    const notice = this.applyOne(message);
    this.changed();
    return notice;
  }

  applyOne(m) {
    switch (m.type) {
      case "offer":
        this.offers.set(m.interaction.id, this.offerEntry(m.interaction, m.expires_at, Date.now()));
        return null;
      case "assigned": {
        this.offers.delete(m.interaction.id);
        const existing = this.conversations.get(m.interaction.id);
        if (existing) existing.interaction = m.interaction;
        else this.conversations.set(m.interaction.id, conversationFor(m.interaction));
        if (!this.activeId) this.activeId = m.interaction.id;
        return null;
      }
      case "revoked":
        return this.revoke(m.interaction_id, m.reason);
      case "message":
        this.addTouchpoint(m.interaction_id, m.touchpoint, { live: true });
        return null;
      case "ack":
        this.acknowledge(m);
        return null;
      case "state":
        this.presence = { state: m.state, reason: m.reason ?? null };
        return null;
      case "wrap_up": {
        const conversation = this.conversations.get(m.interaction_id);
        if (conversation) {
          conversation.interaction = { ...conversation.interaction, state: "wrap_up", disposition: m.disposition };
          conversation.busy = null;
          conversation.loaded = "no"; // the wrap-up note is stored without an event: reload shows it
        }
        return null;
      }
      case "closed":
        this.removeConversation(m.interaction_id);
        return null;
      case "delivery": {
        const conversation = this.conversations.get(m.interaction_id);
        conversation?.delivery.set(m.touchpoint_id, { status: m.status, error: m.error ?? null });
        return m.status === "failed" && conversation
          ? { kind: "delivery_failed", interactionId: m.interaction_id, name: conversation.interaction.customer?.name }
          : null;
      }
      case "typing": {
        const conversation = this.conversations.get(m.interaction_id);
        if (conversation) conversation.typingUntil = Date.now() + TYPING_SHOWN_MS;
        return null;
      }
      case "error":
        return this.refused(m);
      default:
        return null; // pong, and types newer than this console
    }
  }

  revoke(interactionId, reason) {
    const offer = this.offers.get(interactionId);
    this.offers.delete(interactionId);
    const conversation = this.conversations.get(interactionId);
    if (conversation) {
      this.removeConversation(interactionId);
      return { kind: "revoked", reason, interactionId, name: conversation.interaction.customer?.name };
    }
    return offer && reason !== "rejected" ? { kind: "offer_gone", reason, interactionId } : null;
  }

  removeConversation(id) {
    const ids = [...this.conversations.keys()];
    this.conversations.delete(id);
    if (this.activeId === id) {
      const index = ids.indexOf(id);
      this.activeId = ids[index + 1] ?? ids[index - 1] ?? null;
    }
  }

  addTouchpoint(interactionId, touchpoint, { live = false } = {}) {
    if (!touchpoint) return;
    const offer = this.offers.get(interactionId);
    if (offer && touchpoint.kind === "inbound_message" && touchpoint.body) {
      offer.interaction = { ...offer.interaction, preview: touchpoint.body };
    }
    const conversation = this.conversations.get(interactionId);
    if (!conversation) return;
    const known = conversation.touchpoints.has(touchpoint.id);
    conversation.touchpoints.set(touchpoint.id, touchpoint);
    const clientMsgId = touchpoint.payload?.client_msg_id;
    if (clientMsgId) conversation.pending.delete(clientMsgId);
    if (touchpoint.kind === "delivery_status" && touchpoint.payload?.touchpoint_id != null) {
      const { touchpoint_id: target, status, error } = touchpoint.payload;
      conversation.delivery.set(target, { status, error: error ?? null });
    }
    if (live && !known && touchpoint.actor_kind === "customer") {
      conversation.typingUntil = 0;
      if (this.activeId !== interactionId) conversation.unread += 1;
    }
  }

  /** The transcript from GET /api/interactions/{id}: merged, since events may have raced it. */
  loadTranscript(interactionId, data) {
    const conversation = this.conversations.get(interactionId);
    if (!conversation) return;
    for (const touchpoint of data.touchpoints) this.addTouchpoint(interactionId, touchpoint);
    conversation.interaction = { ...conversation.interaction, state: data.interaction.state };
    conversation.loaded = "yes";
    conversation.loadError = null;
    this.changed();
  }

  acknowledge(m) {
    for (const conversation of this.conversations.values()) {
      const pending = conversation.pending.get(m.client_msg_id);
      if (!pending && conversation.id !== m.interaction_id) continue;
      if (m.touchpoint) {
        this.addTouchpoint(conversation.id, m.touchpoint);
      } else if (pending && m.touchpoint_id != null && !conversation.touchpoints.has(m.touchpoint_id)) {
        // "already stored" (a resend after reconnect): the server kept the first copy; show ours in its place
        conversation.touchpoints.set(m.touchpoint_id, {
          id: m.touchpoint_id, interaction_id: conversation.id, kind: "outbound_message", actor_kind: "agent",
          actor_id: this.agent?.id ?? null, body: pending.text, channel: conversation.interaction.channel,
          payload: { client_msg_id: m.client_msg_id, agent_name: this.agent?.display_name },
          created_at: pending.createdAt,
        });
      }
      conversation.pending.delete(m.client_msg_id);
      return;
    }
  }

  /** An error answers one of our messages; its ref says which (see Controller.send). */
  refused(m) {
    const [what, id] = String(m.ref ?? "").split(":");
    if (what === "typing") return null;
    if (what === "reply") {
      for (const conversation of this.conversations.values()) {
        const pending = conversation.pending.get(id);
        if (pending) Object.assign(pending, { status: "failed", error: m.code, errorMessage: m.message });
      }
      return null; // shown on the message itself
    } else if (what === "accept" || what === "reject") {
      const offer = this.offers.get(id);
      if (offer) offer.busy = false;
    } else if (id && this.conversations.has(id)) {
      this.conversations.get(id).busy = null;
    }
    return { kind: "error", code: m.code, message: m.message };
  }

  // -- the agent's own moves --------------------------------------------------------------

  addPending(conversation, text) {
    const entry = { clientMsgId: newClientMsgId(), text, status: "queued", error: null, createdAt: new Date().toISOString() };
    conversation.pending.set(entry.clientMsgId, entry);
    this.changed();
    return entry;
  }

  /** Every reply that has no ack yet and may be sent again (same client_msg_id: stored once). */
  unacknowledged() {
    const out = [];
    for (const conversation of this.conversations.values()) {
      for (const pending of conversation.pending.values()) {
        if (pending.status !== "failed") out.push([conversation, pending]);
      }
    }
    return out;
  }

  /** The latest message (not note or routing event) of a conversation, for its tab. */
  lastMessage(conversation) {
    let last = null;
    for (const touchpoint of conversation.touchpoints.values()) {
      if (MESSAGE_KINDS.has(touchpoint.kind) && (!last || touchpoint.id > last.id)) last = touchpoint;
    }
    return last;
  }
}
