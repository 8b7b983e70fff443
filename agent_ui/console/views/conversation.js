// The open conversation's header and controls: transfer, wrap-up, close, reply, note, canned.

import { byId, setOptions } from "../dom.js";
import { t } from "../i18n.js";
import { channelLabel, dispositionLabel, queueLabel } from "../format.js";

const REPLY_STATES = new Set(["assigned", "wrap_up"]);

export function bindConversation(controller) {
  byId("reply-form").addEventListener("submit", (event) => {
    event.preventDefault();
    controller.sendReply();
  });
  byId("reply-input").addEventListener("keydown", (event) => {
    // Enter sends, Shift+Enter is a new line; never while an input method is composing (Chinese)
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing && event.keyCode !== 229) {
      event.preventDefault();
      controller.sendReply();
    }
  });
  byId("reply-input").addEventListener("input", () => controller.agentTyping());
  byId("note-form").addEventListener("submit", (event) => {
    event.preventDefault();
    controller.sendNote();
  });
  byId("note-input").addEventListener("keydown", (event) => {
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey) && !event.isComposing) {
      event.preventDefault();
      controller.sendNote();
    }
  });
  for (const id of ["reply-input", "note-input"]) {
    byId(id).addEventListener("input", () => controller.saveDrafts());
  }
  byId("canned-select").addEventListener("change", (event) => {
    const value = event.target.value;
    event.target.value = "";
    if (value) controller.insertCanned(value);
  });
  byId("transfer-form").addEventListener("submit", (event) => {
    event.preventDefault();
    controller.transfer();
  });
  // one target at a time: picking a queue clears the agent and the other way round
  byId("transfer-queue").addEventListener("change", (event) => {
    if (event.target.value) byId("transfer-agent").value = "";
  });
  byId("transfer-agent").addEventListener("change", (event) => {
    if (event.target.value) byId("transfer-queue").value = "";
  });
  const refreshColleagues = () => controller.loadColleagues();
  byId("transfer-agent").addEventListener("focus", refreshColleagues);
  byId("transfer-agent").addEventListener("pointerdown", refreshColleagues);
  byId("close-button").addEventListener("click", () => controller.close());
  byId("wrapup-form").addEventListener("submit", (event) => {
    event.preventDefault();
    controller.wrapUp();
  });
}

/** Option lists that depend on settings, colleagues and language (kept selected values). */
export function renderPickers(store) {
  setOptions(byId("transfer-queue"), [
    { value: "", label: t("transfer.queue") },
    ...store.settings.queues.map((q) => ({ value: q.name, label: q.label || q.name })),
  ]);
  setOptions(byId("transfer-agent"), [
    { value: "", label: t("transfer.agent") },
    ...store.colleagues
      .filter((a) => a.id !== store.agent?.id)
      .map((a) => ({ value: a.login, label: t("transfer.agent_option", { name: a.display_name || a.login, state: t(`state.${a.state}`) }) })),
  ]);
  setOptions(byId("wrapup-disposition"), [
    { value: "", label: t("wrapup.disposition") },
    ...store.settings.dispositions.map((d) => ({ value: d.code, label: d.label || d.code })),
  ]);
  const canned = store.settings.canned_responses;
  setOptions(byId("canned-select"), [
    { value: "", label: t(canned.length ? "canned.label" : "canned.none") },
    ...canned.map((c) => ({ value: c.id, label: c.title })),
  ]);
  byId("canned-select").disabled = !canned.length;
}

export function renderConversation(store) {
  const conversation = store.active;
  byId("no-conversation").hidden = Boolean(conversation);
  byId("conversation").hidden = !conversation;
  if (!conversation) return;
  const { interaction } = conversation;
  const state = interaction.state;
  const online = store.connection === "online";
  byId("conversation-customer").textContent = interaction.customer?.name || t("customer.anonymous");
  const channel = byId("conversation-channel");
  channel.textContent = channelLabel(interaction.channel);
  channel.dataset.channel = interaction.channel;
  byId("conversation-queue").textContent = queueLabel(store.settings, interaction.queue);
  byId("conversation-subject").textContent = interaction.subject ?? "";
  byId("conversation-state").textContent = t(`istate.${state}`);
  byId("conversation-state").dataset.state = state;

  const busy = conversation.busy !== null;
  byId("transfer-queue").disabled = byId("transfer-agent").disabled = state !== "assigned" || busy;
  byId("transfer-submit").disabled = state !== "assigned" || busy || !online;
  byId("close-button").disabled = !REPLY_STATES.has(state) || busy || !online;
  byId("close-button").textContent = t(state === "wrap_up" ? "close.finish" : "close.submit");

  const wrapping = state === "wrap_up";
  for (const id of ["wrapup-disposition", "wrapup-notes"]) byId(id).disabled = state !== "assigned" || busy;
  byId("wrapup-submit").disabled = state !== "assigned" || busy || !online;
  byId("wrapup-form").classList.toggle("is-done", wrapping);
  byId("wrapup-done").textContent = wrapping
    ? t("wrapup.done", { disposition: dispositionLabel(store.settings, interaction.disposition) })
    : "";

  byId("reply-input").disabled = byId("reply-send").disabled = !REPLY_STATES.has(state);
  byId("note-input").disabled = byId("note-send").disabled = false;
}

export function showDrafts(conversation) {
  byId("reply-input").value = conversation?.drafts.reply ?? "";
  byId("note-input").value = conversation?.drafts.note ?? "";
}
