// The top bar: presence selector, connection indicator, agent name, language, logout.

import { byId, setOptions } from "../dom.js";
import { LANGUAGES, language, t } from "../i18n.js";
import { presenceLabel, reasonLabel } from "../format.js";

const stateSelect = () => byId("state-select");

/** The selector's value for a presence: "available", "offline", "away" or "away:<reason>". */
export function presenceValue(presence) {
  if (presence.state === "away" && presence.reason) return `away:${presence.reason}`;
  return presence.state;
}

export function parsePresenceValue(value) {
  const [state, ...rest] = value.split(":");
  return { state, reason: rest.length ? rest.join(":") : null };
}

export function bindHeader(controller) {
  stateSelect().addEventListener("change", (event) => controller.setPresence(parsePresenceValue(event.target.value)));
  byId("logout").addEventListener("click", () => controller.logout());
  byId("lang-switch").addEventListener("change", (event) => controller.setLanguage(event.target.value));
}

export function renderLanguageSwitch() {
  setOptions(
    byId("lang-switch"),
    Object.keys(LANGUAGES).map((code) => ({ value: code, label: t(`lang.${code}`) })),
  );
  byId("lang-switch").value = language();
}

export function renderHeader(store) {
  const select = stateSelect();
  const current = presenceValue(store.presence);
  const options = [
    { value: "available", label: presenceLabel("available") },
    { value: "away", label: presenceLabel("away") },
    ...store.settings.away_reasons.map((reason) => ({
      value: `away:${reason}`,
      label: t("state.away_reason", { reason: reasonLabel(reason) }),
    })),
    { value: "offline", label: presenceLabel("offline") },
  ];
  if (!options.some((o) => o.value === current)) {
    // a reason the agent cannot pick (missed offers, disconnected): shown, not offered
    const label = store.presence.reason
      ? t(`state.${store.presence.state}_reason`, { reason: reasonLabel(store.presence.reason) })
      : presenceLabel(store.presence.state);
    options.push({ value: current, label, disabled: true });
  }
  setOptions(select, options);
  select.value = current;
  select.disabled = store.connection !== "online";
  byId("presence").dataset.state = store.presence.state;

  const status = byId("connection-status");
  status.dataset.status = store.connection;
  byId("connection-text").textContent = t(`connection.${store.connection}`);
  byId("agent-name").textContent = store.agent?.display_name ?? "";
}
