// The agent console: sign-in, then one live connection and the views that show the store.
//
// Flow: GET /api/me says whether the session cookie is good; if not, the sign-in form posts
// to /api/login (the server sets the HttpOnly cookie). Then the websocket's hello fills the
// store, events change it, and every change re-renders the views from it.

import { api } from "./api.js";
import { byId } from "./dom.js";
import { applyI18n, hasChosenLanguage, language, onLanguageChange, preferredLanguage, setLanguage, t } from "./i18n.js";
import { Controller } from "./controller.js";
import { ConsoleSocket } from "./socket.js";
import { Store } from "./store.js";
import { renderConversations } from "./views/conversations.js";
import { bindConversation, renderConversation, renderPickers, showDrafts } from "./views/conversation.js";
import { bindCustomer, renderCustomer } from "./views/customer.js";
import { bindHeader, renderHeader, renderLanguageSwitch } from "./views/header.js";
import { renderOffers, tickOffers } from "./views/offers.js";
import { renderTranscript, renderTyping } from "./views/transcript.js";
import { SupervisorView } from "./views/supervisor.js";

const TICK_MS = 250;

const store = new Store();
const socket = new ConsoleSocket({
  onHello(hello) {
    if (!hasChosenLanguage() && hello.language && hello.language !== language()) setLanguage(preferredLanguage(hello.language));
    store.applyHello(hello);
    controller.resendUnacknowledged();
    controller.loadColleagues({ force: true });
  },
  onEvent(message) {
    controller.notify(store.apply(message));
  },
  onStatus(status) {
    store.setConnection(status);
  },
  onSessionLost() {
    signedOut({ expired: true });
  },
});
const controller = new Controller(store, socket, { onLogout: signedOut });
const supervisor = new SupervisorView({ settings: () => store.settings, onSessionLost: () => signedOut({ expired: true }) });

// -- rendering ------------------------------------------------------------------------------

let pickersKey = null;
let shownActiveId;

function render() {
  if (byId("app").dataset.view !== "console") return;
  renderHeader(store);
  renderOffers(store, controller);
  renderConversations(store, controller);
  const key = JSON.stringify([store.settings, store.colleagues, store.agent?.id, language()]);
  if (key !== pickersKey) {
    renderPickers(store);
    pickersKey = key;
  }
  if (store.activeId !== shownActiveId) {
    showDrafts(store.active);
    shownActiveId = store.activeId;
  }
  renderConversation(store);
  renderTranscript(store, controller);
  renderTyping(store);
  renderCustomer(store);
  const waiting = store.offers.size + [...store.conversations.values()].reduce((n, c) => n + c.unread, 0);
  document.title = waiting ? t("app.title_count", { n: waiting }) : t("app.title");
  controller.maintain();
}

store.subscribe(render);
onLanguageChange(() => {
  renderLanguageSwitch();
  document.title = t("app.title");
  store.changed();
  supervisor.render();
});

let typingShown = new Set();
setInterval(() => {
  tickOffers();
  // typing indicators expire on the clock, not on an event
  const typing = new Set([...store.conversations.values()].filter((c) => c.typingUntil > Date.now()).map((c) => c.id));
  if (typing.size !== typingShown.size || [...typing].some((id) => !typingShown.has(id))) store.changed();
  typingShown = typing;
  controller.maintain();
}, TICK_MS);

// -- signing in and out -----------------------------------------------------------------------

function show(view) {
  byId("app").dataset.view = view;
}

function signedIn(profile) {
  byId("login-error").textContent = "";
  byId("login-password").value = "";
  show("console");
  store.reset();
  socket.start();
  supervisor.signedIn(profile);
}

function signedOut({ expired }) {
  socket.stop();
  supervisor.signedOut();
  store.reset();
  pickersKey = null;
  shownActiveId = undefined;
  show("login");
  byId("login-error").textContent = expired ? t("session.expired") : "";
  byId("login-user").focus();
}

async function submitLogin(event) {
  event.preventDefault();
  const user = byId("login-user").value.trim();
  const password = byId("login-password").value;
  const error = byId("login-error");
  if (!user || !password) {
    error.textContent = t("login.missing");
    return;
  }
  const button = byId("login-submit");
  button.disabled = true;
  try {
    const { agent } = await api.login(user, password);
    signedIn(agent);
  } catch (err) {
    error.textContent = t(err.status === 401 || err.status === 400 ? "login.failed" : "login.unavailable");
  } finally {
    button.disabled = false;
  }
}

async function boot() {
  setLanguage(preferredLanguage());
  renderLanguageSwitch();
  applyI18n(document);
  document.title = t("app.title");
  bindHeader(controller);
  bindConversation(controller);
  bindCustomer(controller);
  byId("login-form").addEventListener("submit", submitLogin);
  try {
    const { agent } = await api.me();
    signedIn(agent);
  } catch (err) {
    signedOut({ expired: false });
    if (err.status !== 401) byId("login-error").textContent = t("login.unavailable");
  }
}

boot();
