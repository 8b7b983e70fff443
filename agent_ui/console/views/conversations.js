// The list of the agent's conversations (tabs): customer, channel, last message, unread count.

import { byId, h, icon, syncChildren } from "../dom.js";
import { t } from "../i18n.js";
import { channelIcon, channelLabel, shortTime, tierClass, tierLabel } from "../format.js";

const tabs = new Map(); // interaction id -> view

function buildTab(id, controller) {
  const name = h("span", { class: "tab-name" });
  const tier = h("span");
  const time = h("time", { class: "tab-time" });
  const channel = h("span", { class: "tab-channel" });
  const snippet = h("span", { class: "tab-snippet" });
  const unread = h("span", { class: "badge" });
  const state = h("span", { class: "chip chip-state" });
  const tab = h(
    "li",
    { class: "conversation-tab", role: "tab", tabindex: "0", testid: "conversation-tab", data: { interactionId: id } },
    h("div", { class: "tab-row" }, channel, name, tier, time),
    h("div", { class: "tab-row" }, snippet, state, unread),
  );
  tab.addEventListener("click", () => controller.select(id));
  tab.addEventListener("keydown", (event) => {
    if (event.key === "Enter" || event.key === " ") {
      event.preventDefault();
      controller.select(id);
    }
  });
  return { tab, name, tier, time, channel, snippet, unread, state };
}

export function renderConversations(store, controller) {
  const nodes = [];
  for (const [id, conversation] of store.conversations) {
    let view = tabs.get(id);
    if (!view) {
      view = buildTab(id, controller);
      tabs.set(id, view);
    }
    const { interaction } = conversation;
    const last = store.lastMessage(conversation);
    view.name.textContent = interaction.customer?.name || t("customer.anonymous");
    view.tier.className = tierClass(interaction.customer?.tier);
    view.tier.textContent = tierLabel(interaction.customer?.tier);
    view.channel.replaceChildren(icon(channelIcon(interaction.channel)));
    view.channel.title = channelLabel(interaction.channel);
    view.time.textContent = shortTime(last?.created_at ?? interaction.arrived_at);
    view.snippet.textContent = last?.body ?? interaction.preview ?? interaction.subject ?? "";
    view.unread.textContent = conversation.unread ? String(conversation.unread) : "";
    view.unread.hidden = !conversation.unread;
    view.state.textContent = interaction.state === "wrap_up" ? t("istate.wrap_up") : "";
    view.state.hidden = interaction.state !== "wrap_up";
    const selected = id === store.activeId;
    view.tab.classList.toggle("is-active", selected);
    view.tab.setAttribute("aria-selected", String(selected));
    view.tab.classList.toggle("is-typing", conversation.typingUntil > Date.now());
    nodes.push(view.tab);
  }
  for (const id of tabs.keys()) if (!store.conversations.has(id)) tabs.delete(id);
  syncChildren(byId("conversation-list"), nodes);
  const empty = byId("conversations-empty");
  empty.hidden = nodes.length > 0;
  empty.textContent = t(store.presence.state === "available" ? "conversations.empty_available" : "conversations.empty");
  byId("conversation-count").textContent = nodes.length ? String(nodes.length) : "";
}
