// Labels and descriptions for what the server sends: stable codes in, the agent's language out.
// Config-provided labels (queues, dispositions, canned responses) are shown as configured.

import { language, t, tOr } from "./i18n.js";

export const KNOWN_TIERS = new Set(["standard", "silver", "gold", "platinum", "diamond"]);
export const KNOWN_CHANNELS = new Set(["chat", "email", "sms", "voice"]);

export function channelLabel(channel) {
  return tOr(`channel.${channel}`, channel ?? t("channel.none"));
}

export function channelIcon(channel) {
  return KNOWN_CHANNELS.has(channel) ? channel : "info";
}

export function tierLabel(tier) {
  return tOr(`tier.${tier}`, tier ?? "");
}

/** A CSS-safe tier class: known tiers get their colour, anything else the neutral badge. */
export function tierClass(tier) {
  return `tier tier--${KNOWN_TIERS.has(tier) ? tier : "other"}`;
}

export function queueLabel(settings, name) {
  return settings.queues.find((q) => q.name === name)?.label ?? name ?? "";
}

export function dispositionLabel(settings, code) {
  return settings.dispositions.find((d) => d.code === code)?.label ?? code ?? "";
}

export function presenceLabel(state) {
  return tOr(`state.${state}`, state);
}

export function reasonLabel(reason) {
  return tOr(`reason.${reason}`, reason);
}

function parseTime(iso) {
  const when = iso ? new Date(iso) : null;
  return when && !Number.isNaN(when.getTime()) ? when : null;
}

/** "14:05" today, "3月2日 14:05" / "Mar 2, 14:05" before. */
export function shortTime(iso) {
  const when = parseTime(iso);
  if (!when) return "";
  const now = new Date();
  const sameDay = when.toDateString() === now.toDateString();
  const options = sameDay
    ? { hour: "2-digit", minute: "2-digit" }
    : { month: "short", day: "numeric", hour: "2-digit", minute: "2-digit" };
  return new Intl.DateTimeFormat(language(), options).format(when);
}

export function fullTime(iso) {
  const when = parseTime(iso);
  return when ? new Intl.DateTimeFormat(language(), { dateStyle: "medium", timeStyle: "medium" }).format(when) : "";
}

/**
 * Who wrote a message, as the transcript labels it. Agent names come from the message itself
 * or from the colleague list (wrap-up notes carry only the agent's id).
 */
export function authorName(touchpoint, customerName, me, colleagues = []) {
  if (touchpoint.actor_kind === "customer") return customerName || t("msg.customer");
  if (touchpoint.actor_kind === "agent") {
    if (me && touchpoint.actor_id === me.id) return t("msg.you");
    const colleague = colleagues.find((a) => a.id === touchpoint.actor_id);
    return touchpoint.payload?.agent_name || colleague?.display_name || t("msg.agent");
  }
  return t("msg.system");
}

/** One line for a routing or system touchpoint (offer, transfer, state change...). */
export function describeEvent(touchpoint, settings) {
  const p = touchpoint.payload ?? {};
  switch (touchpoint.kind) {
    case "offer":
      return t("event.offer");
    case "accept":
      return t("event.accept");
    case "reject":
      return t("event.reject");
    case "revoke":
      return t("event.revoke", { reason: tOr(`revoke.${p.reason}`, p.reason ?? "") });
    case "transfer":
      return p.to_queue
        ? t("event.transfer_queue", { queue: queueLabel(settings, p.to_queue) })
        : t("event.transfer_agent");
    case "state_change":
      if (p.disposition) return t("event.wrap_up", { disposition: dispositionLabel(settings, p.disposition) });
      if (p.state === "closed" && p.reason) return t("event.closed_reason", { reason: tOr(`closed.${p.reason}`, p.reason) });
      if (p.escalation_step !== undefined) return t("event.escalated");
      return t("event.state", { state: tOr(`istate.${p.state}`, p.state ?? "") });
    case "call_event":
      return t("event.call", { event: String(p.event ?? p.state ?? "") });
    case "delivery_status":
      return t("event.delivery", { status: tOr(`delivery.${p.status}`, p.status ?? "") });
    case "merge":
      return t("event.merge", { name: String(p.merged_name ?? "") });
    case "identity_added":
      return t("event.identity_added", { kind: tOr(`identity.${p.kind}`, p.kind ?? ""), address: String(p.address ?? "") });
    case "profile_change":
      return t("event.profile_change", { fields: Object.keys(p.changes ?? {}).join(", ") });
    default:
      return tOr(`kind.${touchpoint.kind}`, touchpoint.kind);
  }
}

/** The text of an error the server sent, in the agent's language when we know the code. */
export function errorText(code, fallback) {
  return tOr(`error.${code}`, fallback || t("error.unknown"));
}
