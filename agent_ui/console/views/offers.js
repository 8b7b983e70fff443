// Offer cards: who is waiting, on which channel and queue, what they said, and how long is left.

import { clockSkewMs } from "../api.js";
import { byId, h, icon, syncChildren } from "../dom.js";
import { t } from "../i18n.js";
import { channelIcon, channelLabel, queueLabel, tierClass, tierLabel } from "../format.js";

const cards = new Map(); // interaction id -> {card, countdown, bar, entry}

export function secondsLeft(entry, now = Date.now()) {
  if (entry.expiresAt === null) return null;
  return Math.max(0, Math.ceil((entry.expiresAt - (now + clockSkewMs)) / 1000));
}

function buildCard(id, controller) {
  const countdown = h("span", { class: "countdown-text", testid: "offer-countdown" });
  const bar = h("progress", { class: "countdown-bar", max: "1", value: "1" });
  const accept = h("button", { type: "button", class: "btn btn-primary", testid: "offer-accept" });
  const reject = h("button", { type: "button", class: "btn", testid: "offer-reject" });
  accept.addEventListener("click", () => controller.accept(id));
  reject.addEventListener("click", () => controller.reject(id));
  const name = h("span", { class: "offer-name" });
  const tier = h("span");
  const channel = h("span", { class: "chip" });
  const queue = h("span", { class: "chip chip-quiet" });
  const subject = h("p", { class: "offer-subject" });
  const preview = h("p", { class: "offer-preview" });
  const card = h(
    "li",
    { class: "offer-card", testid: "offer-card", data: { interactionId: id } },
    h("div", { class: "offer-head" }, name, tier),
    h("div", { class: "offer-meta" }, channel, queue, h("span", { class: "countdown" }, icon("clock"), countdown)),
    subject,
    preview,
    bar,
    h("div", { class: "offer-actions" }, accept, reject),
  );
  return { card, countdown, bar, name, tier, channel, queue, subject, preview, accept, reject };
}

export function renderOffers(store, controller) {
  const nodes = [];
  for (const [id, entry] of store.offers) {
    let view = cards.get(id);
    if (!view) {
      view = buildCard(id, controller);
      cards.set(id, view);
    }
    view.entry = entry;
    const { interaction } = entry;
    view.name.textContent = interaction.customer?.name || t("customer.anonymous");
    view.tier.className = tierClass(interaction.customer?.tier);
    view.tier.textContent = tierLabel(interaction.customer?.tier);
    view.channel.replaceChildren(icon(channelIcon(interaction.channel)), channelLabel(interaction.channel));
    view.channel.dataset.channel = interaction.channel;
    view.queue.textContent = queueLabel(store.settings, interaction.queue);
    view.subject.textContent = interaction.subject ?? "";
    view.subject.hidden = !interaction.subject;
    view.preview.textContent = interaction.preview || (interaction.subject ? "" : t("offer.no_preview"));
    view.accept.textContent = t(entry.busy ? "offer.accepting" : "offer.accept");
    view.reject.textContent = t("offer.reject");
    view.accept.disabled = view.reject.disabled = entry.busy || store.connection !== "online";
    nodes.push(view.card);
  }
  for (const id of cards.keys()) if (!store.offers.has(id)) cards.delete(id);
  const list = byId("offer-list");
  syncChildren(list, nodes);
  byId("offers-empty").hidden = nodes.length > 0;
  byId("offer-count").textContent = nodes.length ? String(nodes.length) : "";
  tickOffers();
}

/** Called every 250 ms: move the countdowns without rebuilding anything. */
export function tickOffers() {
  const now = Date.now();
  for (const view of cards.values()) {
    const left = secondsLeft(view.entry, now);
    if (left === null) {
      view.countdown.textContent = "";
      view.bar.hidden = true;
      continue;
    }
    view.bar.hidden = false;
    const total = Math.max(1, (view.entry.expiresAt - view.entry.receivedAt - clockSkewMs) / 1000);
    view.countdown.textContent = left > 0 ? t("offer.seconds", { s: left }) : t("offer.expiring");
    view.bar.value = Math.min(1, left / total);
    view.card.classList.toggle("is-urgent", left <= 5);
  }
}
