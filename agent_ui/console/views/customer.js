// The customer beside the conversation: who they are, how to reach them, and everything that
// happened with them on every channel, newest first, a page at a time.

import { byId, h, icon, syncChildren } from "../dom.js";
import { language, t, tOr } from "../i18n.js";
import {
  authorName, channelIcon, channelLabel, describeEvent, fullTime, shortTime, tierClass, tierLabel,
} from "../format.js";

let historyKey = null; // what the history list shows now: rebuilt only when this changes

// Routing steps (offered, accepted, revoked...) are noise in a customer's story unless asked for.
const ROUTING_KINDS = new Set(["offer", "accept", "reject", "revoke", "delivery_status"]);

export function bindCustomer(controller) {
  byId("history-more").addEventListener("click", () => controller.loadMoreHistory());
  byId("history-routing").addEventListener("change", () => controller.rerender());
}

function historyItem(touchpoint, record, store) {
  const channel = touchpoint.channel ?? "none";
  const kind = touchpoint.kind;
  const isMessage = kind === "inbound_message" || kind === "outbound_message";
  const isNote = kind === "note";
  let body;
  if (isMessage || isNote) {
    body = h("p", { class: "history-body" },
      h("span", { class: "history-author", text: authorName(touchpoint, record.profile?.display_name, store.agent, store.colleagues) }),
      touchpoint.body ?? "");
  } else {
    body = h("p", { class: "history-body history-event", text: describeEvent(touchpoint, store.settings) });
  }
  return h("li", {
    class: ["history-item", `history-item--${isNote ? "note" : isMessage ? "message" : "event"}`,
      touchpoint.payload?.disposition && "has-disposition"],
    testid: "history-item",
    data: { channel, kind },
  },
  h("div", { class: "history-meta" },
    h("span", { class: "history-channel", data: { channel } }, icon(channelIcon(touchpoint.channel)), channelLabel(touchpoint.channel)),
    isNote && h("span", { class: "note-tag" }, icon("lock"), t("note.internal")),
    h("time", { datetime: touchpoint.created_at, title: fullTime(touchpoint.created_at), text: shortTime(touchpoint.created_at) })),
  body);
}

export function renderCustomer(store) {
  const conversation = store.active;
  const customerId = conversation?.interaction.customer?.id ?? null;
  const record = customerId ? store.customers.get(customerId) : null;
  byId("no-customer").hidden = Boolean(customerId);
  byId("customer").hidden = !customerId;
  if (!customerId) return;

  const summary = conversation.interaction.customer;
  const profile = record?.profile;
  const name = profile?.display_name || summary.name || t("customer.anonymous");
  const tier = profile?.tier ?? summary.tier;
  byId("customer-name").textContent = name;
  byId("customer-avatar").textContent = Array.from(name.trim())[0] ?? "?";
  const tierEl = byId("customer-tier");
  tierEl.className = tierClass(tier);
  tierEl.textContent = tierLabel(tier);
  tierEl.dataset.tier = tier ?? "";
  byId("customer-points").textContent = profile?.loyalty_points ? t("customer.points", { points: profile.loyalty_points }) : "";
  byId("customer-error").textContent = record?.error ? t("customer.load_failed") : "";

  syncChildren(byId("customer-identities"), (profile?.identities ?? []).map((identity) =>
    h("li", { class: "identity" },
      icon(identity.kind === "email" ? "email" : identity.kind === "phone" ? "phone" : identity.kind === "sip" ? "voice" : "web"),
      h("span", { class: "identity-kind", text: tOr(`identity.${identity.kind}`, identity.kind) }),
      h("span", { class: "identity-address", text: identity.address }))));

  const showRouting = byId("history-routing").checked;
  const key = `${customerId}|${record?.version}|${language()}|${showRouting}|${store.colleagues.length}`;
  if (key === historyKey) return;
  historyKey = key;
  const items = (record?.history ?? [])
    .filter((touchpoint) => showRouting || !ROUTING_KINDS.has(touchpoint.kind))
    .map((touchpoint) => historyItem(touchpoint, record, store));
  byId("history-list").replaceChildren(...items);
  byId("history-empty").hidden = items.length > 0 || Boolean(record?.loading);
  const more = byId("history-more");
  more.hidden = !record?.next;
  more.disabled = Boolean(record?.loading);
  more.textContent = t(record?.loading ? "history.loading" : "history.more");
}
