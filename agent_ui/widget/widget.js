/*
 * contactcenter chat widget.
 *
 *   <script src="https://HOST/widget.js" data-widget="NAME" async></script>
 *
 * Renders a launcher and a chat panel inside a CLOSED shadow root, so the host
 * page's CSS cannot reach in and ours cannot leak out; it defines no globals.
 * It talks to wss://HOST/chat/ws (HOST taken from this script's own src), and
 * keeps a visitor token and any unacknowledged messages in localStorage per
 * widget, so a reload or a dropped connection loses nothing: unacked messages
 * are resent with the same client_msg_id (the server stores them once), and
 * `hello.last_id` replays what the page missed. Customer and agent text is
 * only ever set with textContent.
 */
(function () {
  "use strict";

  const script = document.currentScript || document.querySelector('script[data-widget][src*="widget.js"]');
  if (!script || !script.dataset.widget) return;
  const WIDGET = script.dataset.widget;
  const HOST = new URL(script.src, location.href).origin;
  const WS_URL = HOST.replace(/^http/, "ws") + "/chat/ws?widget=" + encodeURIComponent(WIDGET);
  const STORE_KEY = "cc-chat:" + HOST + ":" + WIDGET;
  const MAX_TEXT = 5000;
  const TYPING_EVERY_MS = 2000;
  const TYPING_SHOWN_MS = 4000;
  if (document.querySelector('[data-cc-chat="' + CSS.escape(WIDGET) + '"]')) return; // loaded twice

  // ---- strings ------------------------------------------------------------------------------
  const LANG = (navigator.language || "en").toLowerCase().startsWith("zh") ? "zh-CN" : "en";
  const STRINGS = {
    "zh-CN": {
      launcher: "在线客服", title: "在线客服", close: "关闭", placeholder: "请输入消息…", send: "发送",
      sending: "发送中…", failed: "未发送", you: "我", agent: "客服",
      position: (n, wait) => (n === 1 ? "马上为您安排客服" : "您前面还有 " + (n - 1) + " 位") + "，预计等待 " + wait,
      waitMinutes: (m) => (m < 1 ? "不到 1 分钟" : m + " 分钟"),
      joined: (name) => name + " 为您服务", typing: (name) => name + " 正在输入…",
      ended: "会话已结束，发送新消息即可开始新的咨询", reconnecting: "连接中断，正在重新连接…",
      transcriptAsk: "将聊天记录发送到邮箱", transcriptSend: "发送", transcriptQueued: (e) => "聊天记录将发送至 " + e,
      offlineNoAgent: "客服暂时都不在线，请留言，我们会通过邮件回复您。",
      offlineClosed: "现在不在服务时间，请留言，我们会通过邮件回复您。",
      offlineThanks: "留言已收到，我们会尽快通过邮件回复您。",
      prechat: "开始咨询前，请留下您的信息", start: "开始咨询", topic: "咨询类型",
      name: "姓名", email: "邮箱", phone: "电话", message: "留言内容", submit: "提交留言",
      errors: { bad_email: "邮箱地址不正确", bad_phone: "电话号码不正确", bad_message: "消息无法发送", internal: "消息无法发送",
        too_many: "发送次数已达上限", no_conversation: "还没有可发送的聊天记录" },
    },
    en: {
      launcher: "Chat with us", title: "Chat with us", close: "Close", placeholder: "Type a message…", send: "Send",
      sending: "Sending…", failed: "Not sent", you: "You", agent: "Agent",
      position: (n, wait) => (n === 1 ? "You are next" : (n - 1) + " ahead of you") + " · wait " + wait,
      waitMinutes: (m) => (m < 1 ? "under a minute" : "about " + m + " min"),
      joined: (name) => name + " joined the chat", typing: (name) => name + " is typing…",
      ended: "This chat has ended. Write again to start a new one.", reconnecting: "Connection lost, reconnecting…",
      transcriptAsk: "Email me the transcript", transcriptSend: "Send", transcriptQueued: (e) => "Transcript will be sent to " + e,
      offlineNoAgent: "No one is available right now. Leave a message and we will reply by email.",
      offlineClosed: "We are closed right now. Leave a message and we will reply by email.",
      offlineThanks: "Thanks! We will reply by email soon.",
      prechat: "Before we start, please tell us who you are", start: "Start chat", topic: "Topic",
      name: "Name", email: "Email", phone: "Phone", message: "Message", submit: "Send message",
      errors: { bad_email: "That email address is not valid", bad_phone: "That phone number is not valid",
        bad_message: "The message could not be sent", internal: "The message could not be sent", too_many: "Limit reached",
        no_conversation: "There is nothing to send yet" },
    },
  }[LANG];

  // ---- persistent state ---------------------------------------------------------------------
  function load() {
    try {
      const data = JSON.parse(localStorage.getItem(STORE_KEY) || "{}");
      return { token: data.token || null, pending: Array.isArray(data.pending) ? data.pending : [],
        prechatDone: !!data.prechatDone, open: !!data.open, live: !!data.live };
    } catch (e) {
      return { token: null, pending: [], prechatDone: false, open: false, live: false };
    }
  }
  const saved = load();
  function save() {
    try { localStorage.setItem(STORE_KEY, JSON.stringify(saved)); } catch (e) { /* private mode: memory only */ }
  }
  function newId() {
    const bytes = new Uint8Array(16);
    crypto.getRandomValues(bytes); // works on http pages too, unlike crypto.randomUUID
    return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  }

  // ---- DOM ------------------------------------------------------------------------------------
  function el(tag, attrs, children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (key === "text") node.textContent = value;
      else if (value !== null && value !== undefined && value !== false) node.setAttribute(key, value === true ? "" : value);
    }
    for (const child of children || []) node.append(child);
    return node;
  }
  function field(name, label, type, required) {
    const input = type === "textarea"
      ? el("textarea", { name, rows: "3", maxlength: String(MAX_TEXT), required, "data-testid": "cc-field-" + name })
      : el("input", { name, type, required, maxlength: "320", "data-testid": "cc-field-" + name });
    return el("label", {}, [el("span", { text: label }), input]);
  }

  const host = el("contactcenter-chat", { "data-cc-chat": WIDGET }); // not a div: page rules for div miss it
  const shadow = host.attachShadow({ mode: "closed" });
  const launcher = el("button", { type: "button", class: "launcher", "data-testid": "cc-launcher",
    "aria-expanded": "false", "aria-label": STRINGS.launcher });
  const badge = el("span", { class: "badge", "data-testid": "cc-unread", hidden: true });
  launcher.append(el("span", { class: "icon", "aria-hidden": "true", text: "💬" }), el("span", { text: STRINGS.launcher }), badge);
  const closeButton = el("button", { type: "button", class: "close", "aria-label": STRINGS.close, text: "×" });
  const status = el("div", { class: "status", "data-testid": "cc-status", "aria-live": "polite" });
  const log = el("ol", { class: "log", "data-testid": "cc-log", "aria-live": "polite" });
  const typing = el("div", { class: "typing", "data-testid": "cc-typing", hidden: true });
  const input = el("textarea", { rows: "2", maxlength: String(MAX_TEXT), placeholder: STRINGS.placeholder,
    "aria-label": STRINGS.placeholder, "data-testid": "cc-input" });
  const compose = el("form", { class: "compose", "data-testid": "cc-compose" },
    [input, el("button", { type: "submit", "data-testid": "cc-send", text: STRINGS.send })]);
  const prechat = el("form", { class: "form", "data-testid": "cc-prechat", hidden: true });
  const offline = el("form", { class: "form", "data-testid": "cc-offline", hidden: true });
  const transcript = el("form", { class: "transcript", "data-testid": "cc-transcript", hidden: true },
    [el("span", { text: STRINGS.transcriptAsk }),
      el("input", { name: "email", type: "email", required: true, "aria-label": STRINGS.email, "data-testid": "cc-transcript-email" }),
      el("button", { type: "submit", text: STRINGS.transcriptSend })]);
  const panel = el("section", { class: "panel", role: "dialog", "aria-label": STRINGS.title, "data-testid": "cc-panel", hidden: true }, [
    el("header", {}, [el("span", { class: "title", text: STRINGS.title }), closeButton]),
    status, log, typing, transcript, prechat, offline, compose,
  ]);
  const root = el("div", { class: "root", lang: LANG }, [panel, launcher]);

  async function mount() {
    try {
      const response = await fetch(HOST + "/widget.css", { mode: "cors", credentials: "omit" });
      const sheet = new CSSStyleSheet();
      sheet.replaceSync(await response.text());
      shadow.adoptedStyleSheets = [sheet];
    } catch (e) { // no constructable stylesheets (old browsers): a link inside the shadow root
      shadow.append(el("link", { rel: "stylesheet", href: HOST + "/widget.css" }));
    }
    shadow.append(root);
    document.body.append(host);
    if (saved.open) openPanel();
    // a conversation going on, or messages not yet sent: connect, and show replies as unread.
    // Otherwise a returning visitor costs the server nothing until they open the panel.
    else if (saved.token && (saved.live || saved.pending.length)) connect();
  }

  // ---- rendering --------------------------------------------------------------------------------
  const seen = new Set();
  const pendingEls = new Map();
  let lastId = 0, unread = 0, typingTimer = null;

  function timeOf(iso) {
    const date = iso ? new Date(iso) : new Date();
    return date.toLocaleTimeString(LANG, { hour: "2-digit", minute: "2-digit" });
  }
  function bubble(from, text, who, at, pending) {
    const item = el("li", { class: "msg " + from, "data-testid": "cc-msg", "data-from": from }, [
      el("span", { class: "who", text: who }), el("p", { class: "text", text }),
      el("span", { class: "meta", text: timeOf(at) }),
    ]);
    // messages still being sent stay last: what arrives meanwhile was stored before them
    const firstPending = pending ? null : log.querySelector(".msg.pending");
    if (firstPending) log.insertBefore(item, firstPending);
    else log.append(item);
    log.scrollTop = log.scrollHeight;
    return item;
  }
  function systemLine(text, testid) {
    log.append(el("li", { class: "system", "data-testid": testid || "cc-system", text }));
    log.scrollTop = log.scrollHeight;
  }
  function follow(id) { // a new conversation began after the last one ended (this tab or another)
    if (id && id !== conversationId) conversationId = id;
  }
  function addMessage(m) {
    follow(m.conversation_id);
    if (seen.has(m.id)) return;
    seen.add(m.id);
    lastId = Math.max(lastId, m.id);
    if (m.from === "customer" && m.client_msg_id && pendingEls.has(m.client_msg_id)) {
      settle(m.client_msg_id, m.id);
      return;
    }
    if (m.from === "agent") {
      bubble("agent", m.text, m.agent_name || STRINGS.agent, m.at).dataset.id = m.id;
      hideTyping();
      if (panel.hidden) { unread += 1; badge.textContent = String(unread); badge.hidden = false; }
    } else {
      bubble("customer", m.text, STRINGS.you, m.at).dataset.id = m.id;
    }
  }
  function addPending(item) {
    const node = bubble("customer", item.text, STRINGS.you, null, true);
    node.classList.add("pending");
    node.querySelector(".meta").textContent = STRINGS.sending;
    pendingEls.set(item.client_msg_id, node);
  }
  function settle(clientMsgId, id) {
    const node = pendingEls.get(clientMsgId);
    if (node) {
      node.classList.remove("pending");
      node.dataset.id = id;
      node.querySelector(".meta").textContent = timeOf(null);
      pendingEls.delete(clientMsgId);
    }
    seen.add(id);
    saved.pending = saved.pending.filter((p) => p.client_msg_id !== clientMsgId);
    save();
  }
  function fail(clientMsgId, code) {
    const node = pendingEls.get(clientMsgId);
    if (node) {
      node.classList.replace("pending", "failed");
      node.querySelector(".meta").textContent = STRINGS.failed + " · " + (STRINGS.errors[code] || code);
      pendingEls.delete(clientMsgId);
    }
    saved.pending = saved.pending.filter((p) => p.client_msg_id !== clientMsgId);
    save();
  }
  function showTyping(name) {
    typing.textContent = STRINGS.typing(name || STRINGS.agent);
    typing.hidden = false;
    clearTimeout(typingTimer);
    typingTimer = setTimeout(hideTyping, TYPING_SHOWN_MS);
  }
  function hideTyping() { typing.hidden = true; clearTimeout(typingTimer); }
  function view(which) { // which form the panel shows under the log
    compose.hidden = which !== "compose";
    prechat.hidden = which !== "prechat";
    offline.hidden = which !== "offline";
  }

  function buildPrechat(fields, topics) {
    prechat.replaceChildren(el("p", { text: STRINGS.prechat }));
    for (const name of fields) prechat.append(field(name, STRINGS[name], name === "email" ? "email" : name === "phone" ? "tel" : "text", true));
    if (topics.length) {
      const select = el("select", { name: "topic", "data-testid": "cc-field-topic" }, topics.map((t) => el("option", { value: t, text: t })));
      prechat.append(el("label", {}, [el("span", { text: STRINGS.topic }), select]));
    }
    prechat.append(el("button", { type: "submit", "data-testid": "cc-prechat-submit", text: STRINGS.start }));
  }
  function buildOffline(reason) {
    offline.replaceChildren(
      el("p", { text: reason === "closed_hours" ? STRINGS.offlineClosed : STRINGS.offlineNoAgent }),
      field("name", STRINGS.name, "text", false), field("email", STRINGS.email, "email", true),
      field("message", STRINGS.message, "textarea", true),
      el("button", { type: "submit", "data-testid": "cc-offline-submit", text: STRINGS.submit }));
  }

  // ---- the connection -----------------------------------------------------------------------------
  let ws = null, welcomed = false, attempts = 0, retryTimer = null, lastTypingSent = 0;
  let conversationId = null, state = "none", agentName = null, extraHello = null, rendered = false;
  let offlinePending = null; // the offline form's message until the server confirms it

  function send(message) {
    if (ws && ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify(message));
  }
  function connect() {
    if (ws || retryTimer) return;
    ws = new WebSocket(WS_URL);
    ws.onopen = () => {
      const hello = { type: "hello", widget: WIDGET, language: LANG };
      if (saved.token) hello.visitor_token = saved.token;
      if (lastId > 0) hello.last_id = lastId;
      Object.assign(hello, extraHello || {});
      send(hello);
    };
    ws.onmessage = (event) => {
      let message;
      try { message = JSON.parse(event.data); } catch (e) { return; }
      handle(message);
    };
    ws.onclose = () => {
      ws = null;
      welcomed = false;
      status.textContent = STRINGS.reconnecting;
      // exponential backoff with full jitter: a server restart is not met by every widget at once
      const delay = Math.random() * Math.min(30000, 500 * 2 ** attempts);
      attempts += 1;
      retryTimer = setTimeout(() => { retryTimer = null; connect(); }, delay);
    };
  }
  window.addEventListener("online", () => {
    if (retryTimer) { clearTimeout(retryTimer); retryTimer = null; connect(); }
  });

  function handle(m) {
    switch (m.type) {
      case "welcome": return onWelcome(m);
      case "ack":
        if (!m.duplicate && m.conversation_id && m.conversation_id !== conversationId) { // it started a conversation
          follow(m.conversation_id);
          state = "waiting";
          transcript.hidden = true;
          saved.live = true;
        }
        return settle(m.client_msg_id, m.id);
      case "message": return addMessage(m);
      case "typing": return showTyping(m.agent_name);
      case "queue":
        if (state === "waiting") status.textContent = STRINGS.position(m.position, STRINGS.waitMinutes(Math.round(m.estimated_wait_s / 60)));
        return;
      case "agent_joined":
        state = "active";
        agentName = m.agent_name;
        status.textContent = STRINGS.joined(agentName);
        return systemLine(STRINGS.joined(agentName), "cc-joined");
      case "closed":
        state = "ended";
        saved.live = false;
        save();
        hideTyping();
        status.textContent = "";
        systemLine(STRINGS.ended, "cc-ended");
        transcript.hidden = !m.transcript_available;
        return;
      case "offline":
        buildOffline(m.reason);
        return view("offline");
      case "offline_received":
        offlinePending = null;
        settle(m.client_msg_id, m.id);
        systemLine(STRINGS.offlineThanks, "cc-offline-thanks");
        return view("none");
      case "transcript_queued":
        transcript.hidden = true;
        return systemLine(STRINGS.transcriptQueued(m.email), "cc-transcript-queued");
      case "error":
        if (m.client_msg_id && pendingEls.has(m.client_msg_id)) {
          if (m.code === "unavailable") { if (ws) ws.close(); return; } // resent after reconnecting
          if (offlinePending && offlinePending.client_msg_id === m.client_msg_id) offlinePending = null;
          return fail(m.client_msg_id, m.code);
        }
        return systemLine(STRINGS.errors[m.code] || m.message, "cc-error");
      default:
        return undefined; // newer server, older widget: ignore what we do not know
    }
  }

  function onWelcome(m) {
    welcomed = true;
    attempts = 0;
    extraHello = null;
    saved.token = m.visitor_token;
    if (m.prechat_done) saved.prechatDone = true;
    save();
    const conversation = m.conversation;
    if (!rendered || conversation.id !== conversationId) { // first load, or a new conversation since
      rendered = true;
      log.replaceChildren();
      seen.clear();
      pendingEls.clear();
      transcript.hidden = true;
      conversationId = conversation.id;
      if (m.greeting) systemLine(m.greeting, "cc-greeting");
    }
    for (const message of conversation.messages) addMessage(message);
    state = conversation.state;
    saved.live = state === "waiting" || state === "active";
    save();
    agentName = conversation.agent_name || null;
    status.textContent = state === "active" && agentName ? STRINGS.joined(agentName) : "";
    if (state === "ended") transcript.hidden = false;
    for (const item of saved.pending) { // not acknowledged before the reload or the cut: same id, stored once
      if (!pendingEls.has(item.client_msg_id)) addPending(item);
      send({ type: "message", client_msg_id: item.client_msg_id, text: item.text });
    }
    if (offlinePending) send(offlinePending); // same client_msg_id: stored once
    const idle = state === "none" || state === "ended";
    if (idle && !m.online) {
      buildOffline(m.offline_reason);
      view("offline");
    } else if (state === "none" && !saved.prechatDone && (m.prechat_fields.length || m.topics.length)) {
      buildPrechat(m.prechat_fields, m.topics);
      view("prechat");
    } else {
      view("compose");
    }
  }

  // ---- user actions ---------------------------------------------------------------------------------
  function openPanel() {
    panel.hidden = false;
    launcher.setAttribute("aria-expanded", "true");
    unread = 0;
    badge.hidden = true;
    saved.open = true;
    save();
    connect();
    input.focus();
  }
  launcher.addEventListener("click", () => {
    if (panel.hidden) openPanel();
    else { panel.hidden = true; launcher.setAttribute("aria-expanded", "false"); saved.open = false; save(); }
  });
  closeButton.addEventListener("click", () => {
    panel.hidden = true;
    launcher.setAttribute("aria-expanded", "false");
    saved.open = false;
    save();
  });
  compose.addEventListener("submit", (event) => {
    event.preventDefault();
    const text = input.value.trim();
    if (!text) return;
    input.value = "";
    // cut by code points, as the server counts: slicing UTF-16 could split an emoji's surrogate pair,
    // and the server refuses a lone surrogate, which would lose the message
    const item = { client_msg_id: newId(), text: Array.from(text).slice(0, MAX_TEXT).join("") };
    saved.pending.push(item);
    save();
    addPending(item);
    if (welcomed) send({ type: "message", client_msg_id: item.client_msg_id, text: item.text });
    else connect();
  });
  input.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) { // IME composition: Enter picks a candidate
      event.preventDefault();
      compose.requestSubmit();
    }
  });
  input.addEventListener("input", () => {
    const now = Date.now();
    if (welcomed && state === "active" && now - lastTypingSent > TYPING_EVERY_MS) {
      lastTypingSent = now;
      send({ type: "typing" });
    }
  });
  prechat.addEventListener("submit", (event) => {
    event.preventDefault();
    const data = Object.fromEntries(new FormData(prechat));
    extraHello = {};
    for (const key of ["name", "email", "phone", "topic"]) if (data[key]) extraHello[key] = String(data[key]).trim();
    saved.prechatDone = true;
    save();
    view("compose");
    const hello = { type: "hello", widget: WIDGET, language: LANG, visitor_token: saved.token, ...extraHello };
    if (lastId > 0) hello.last_id = lastId;
    send(hello);
  });
  offline.addEventListener("submit", (event) => {
    event.preventDefault();
    const data = Object.fromEntries(new FormData(offline));
    const item = { client_msg_id: newId(), text: String(data.message || "").trim() };
    if (!item.text) return;
    addPending(item);
    offlinePending = { type: "offline", name: String(data.name || "").trim(), email: String(data.email || "").trim(),
      message: item.text, client_msg_id: item.client_msg_id };
    send(offlinePending);
  });
  transcript.addEventListener("submit", (event) => {
    event.preventDefault();
    send({ type: "transcript", email: String(new FormData(transcript).get("email") || "").trim() });
  });

  if (document.body) mount();
  else document.addEventListener("DOMContentLoaded", mount, { once: true });
})();
