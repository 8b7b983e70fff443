// The live transcript of the open conversation: customer messages, replies, internal notes,
// and compact routing events. Message nodes are kept per conversation and rebuilt only when
// what they show changes, so a burst of events does not redraw a long conversation.

import { byId, h, icon, syncChildren } from "../dom.js";
import { language, t, tOr } from "../i18n.js";
import { authorName, describeEvent, errorText, fullTime, shortTime } from "../format.js";

const HIDDEN_KINDS = new Set(["delivery_status"]); // shown on the message they are about
const nodeCache = new WeakMap(); // conversation -> Map<key, {signature, node}>
let shownConversation = null;

function deliveryLine(delivery) {
  if (!delivery) return null;
  if (delivery.status === "failed") {
    return h("p", { class: "msg-status is-failed", role: "alert" }, icon("alert"),
      delivery.error ? t("msg.delivery_failed_because", { error: delivery.error }) : t("msg.delivery_failed"));
  }
  return h("p", { class: "msg-status" }, icon("check"), tOr(`delivery.${delivery.status}`, String(delivery.status)));
}

function messageNode(touchpoint, { author, delivery, settings }) {
  const kind = touchpoint.kind;
  const actor = touchpoint.actor_kind;
  const time = h("time", { datetime: touchpoint.created_at, title: fullTime(touchpoint.created_at), text: shortTime(touchpoint.created_at) });
  const base = { testid: "msg", data: { kind, actor, touchpointId: String(touchpoint.id) } };
  if (kind === "inbound_message" || kind === "outbound_message") {
    const subject = typeof touchpoint.payload?.subject === "string" ? touchpoint.payload.subject : null;
    const side = actor === "customer" ? "msg--customer" : "msg--agent";
    return h("li", { ...base, class: ["msg", side, delivery?.status === "failed" && "is-failed"] },
      h("div", { class: "msg-meta" }, h("span", { class: "msg-author", text: author }), time),
      h("div", { class: "msg-bubble" },
        subject && h("p", { class: "msg-subject", text: subject }),
        h("p", { class: "msg-body", text: touchpoint.body ?? "" })),
      deliveryLine(delivery));
  }
  if (kind === "note") {
    return h("li", { ...base, class: "msg msg--note" },
      h("div", { class: "msg-meta" },
        h("span", { class: "note-tag" }, icon("lock"), t("note.internal")),
        h("span", { class: "msg-author", text: author }), time),
      h("div", { class: "msg-bubble" }, h("p", { class: "msg-body", text: touchpoint.body ?? "" })));
  }
  return h("li", { ...base, class: "msg msg--system" },
    icon(kind === "transfer" ? "transfer" : "info"),
    h("span", { class: "msg-event", text: describeEvent(touchpoint, settings) }), time);
}

function pendingNode(pending, controller, conversation) {
  const failed = pending.status === "failed";
  return h("li", {
    class: ["msg", "msg--agent", "is-pending", failed && "is-failed"], testid: "msg",
    data: { kind: "outbound_message", actor: "agent", status: failed ? "failed" : "pending", clientMsgId: pending.clientMsgId },
  },
  h("div", { class: "msg-meta" }, h("span", { class: "msg-author", text: t("msg.you") })),
  h("div", { class: "msg-bubble" }, h("p", { class: "msg-body", text: pending.text })),
  failed
    ? h("p", { class: "msg-status is-failed", role: "alert" }, icon("alert"), errorText(pending.error, pending.errorMessage),
      h("button", { type: "button", class: "link", text: t("msg.retry"), onclick: () => controller.retryReply(conversation, pending) }),
      h("button", { type: "button", class: "link", text: t("msg.discard"), onclick: () => controller.discardReply(conversation, pending) }))
    : h("p", { class: "msg-status" }, icon("clock"), t(pending.status === "queued" ? "msg.queued" : "msg.sending")));
}

export function renderTranscript(store, controller) {
  const conversation = store.active;
  const list = byId("transcript");
  const scroller = byId("transcript-scroll");
  const status = byId("transcript-status");
  if (!conversation) {
    shownConversation = null;
    list.replaceChildren();
    return;
  }
  const switched = shownConversation !== conversation;
  const nearBottom = scroller.scrollHeight - scroller.scrollTop - scroller.clientHeight < 80;
  let cache = nodeCache.get(conversation);
  if (!cache) nodeCache.set(conversation, (cache = new Map()));
  const customerName = conversation.interaction.customer?.name;
  const lang = language();
  const used = new Set();
  const nodes = [];
  const ordered = [...conversation.touchpoints.values()].sort((a, b) => a.id - b.id);
  for (const touchpoint of ordered) {
    if (HIDDEN_KINDS.has(touchpoint.kind)) continue;
    const delivery = conversation.delivery.get(touchpoint.id) ?? null;
    const key = `tp:${touchpoint.id}`;
    const author = authorName(touchpoint, customerName, store.agent, store.colleagues);
    const signature = `${lang}|${touchpoint.body}|${delivery?.status}|${delivery?.error}|${author}`;
    nodes.push(cached(cache, key, signature, () => messageNode(touchpoint, { author, delivery, settings: store.settings })));
    used.add(key);
  }
  for (const pending of conversation.pending.values()) {
    const key = `pending:${pending.clientMsgId}`;
    const signature = `${lang}|${pending.status}|${pending.error}`;
    nodes.push(cached(cache, key, signature, () => pendingNode(pending, controller, conversation)));
    used.add(key);
  }
  for (const key of cache.keys()) if (!used.has(key)) cache.delete(key);
  syncChildren(list, nodes);

  status.textContent = conversation.loaded === "loading" && !nodes.length
    ? t("transcript.loading")
    : conversation.loadError ? t("transcript.load_failed") : "";
  if (switched || nearBottom) scroller.scrollTop = scroller.scrollHeight;
  shownConversation = conversation;
}

function cached(cache, key, signature, build) {
  const hit = cache.get(key);
  if (hit && hit.signature === signature) return hit.node;
  const node = build();
  cache.set(key, { signature, node });
  return node;
}

export function renderTyping(store) {
  const conversation = store.active;
  const el = byId("customer-typing");
  const typing = Boolean(conversation && conversation.typingUntil > Date.now());
  el.textContent = typing
    ? t("typing.customer", { name: conversation.interaction.customer?.name || t("msg.customer") })
    : "";
  el.hidden = !typing;
}
