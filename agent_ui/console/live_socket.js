// A websocket kept alive across drops: the part the agent and supervisor connections share.
//
// It reconnects with exponential backoff and jitter, pings and drops a link that stops
// answering, and, because a refused upgrade looks like any other close to a browser, asks
// the API after a drop whether the session (or the role) is what failed. Subclasses say what
// the URL is and what to do with each message (`handle`), and call `online()` when the
// server's first message shows the connection is usable.

import { api } from "./api.js";

const BASE_DELAY_MS = 500;
const MAX_DELAY_MS = 10_000;
const PING_EVERY_MS = 20_000;
const PONG_WITHIN_MS = 10_000;

/** Exponential backoff with jitter: attempt 0 waits 250-500 ms, then doubling, capped at 10 s. */
export function backoffDelay(attempt, random = Math.random) {
  const ceiling = Math.min(MAX_DELAY_MS, BASE_DELAY_MS * 2 ** attempt);
  return ceiling / 2 + random() * (ceiling / 2);
}

export class LiveSocket {
  /**
   * handlers: onStatus("connecting"|"online"|"reconnecting"|"offline"),
   * onSessionLost() when the server no longer knows the session, onForbidden() when the role is refused.
   */
  constructor(path, handlers) {
    this.path = path;
    this.handlers = handlers;
    this.ws = null;
    this.attempt = 0;
    this.stopped = true;
    this.ready = false;
    this.retryTimer = null;
    this.pingTimer = null;
    this.pongTimer = null;
    this.onBrowserOnline = () => this.reconnectNow();
  }

  // -- what subclasses say ---------------------------------------------------------------------

  /** Extra query parameters for the next connection. */
  params() {
    return {};
  }

  /** True when the next connection resumes an earlier one (shown as "reconnecting"). */
  resuming() {
    return false;
  }

  /** Whether the logged-in account may use this socket (after a drop); `me` is GET /api/me. */
  allowed(_me) {
    return true;
  }

  /** One parsed message from the server. */
  handle(_message) {}

  // -- lifecycle -------------------------------------------------------------------------------

  start() {
    if (!this.stopped) return;
    this.stopped = false;
    this.attempt = 0;
    window.addEventListener("online", this.onBrowserOnline);
    this.open();
  }

  /** Close for good: no reconnect. */
  stop() {
    this.stopped = true;
    window.removeEventListener("online", this.onBrowserOnline);
    clearTimeout(this.retryTimer);
    this.drop();
    this.handlers.onStatus("offline");
  }

  /** Send one message; false if there is no usable connection to take it right now. */
  send(message) {
    if (!this.ws || !this.ready || this.ws.readyState !== WebSocket.OPEN) return false;
    this.ws.send(JSON.stringify(message));
    return true;
  }

  get connected() {
    return this.ready;
  }

  open() {
    const url = new URL(this.path, window.location.href);
    url.protocol = window.location.protocol === "https:" ? "wss:" : "ws:";
    for (const [name, value] of Object.entries(this.params())) url.searchParams.set(name, String(value));
    this.handlers.onStatus(this.attempt === 0 && !this.resuming() ? "connecting" : "reconnecting");
    const ws = new WebSocket(url);
    this.ws = ws;
    this.ready = false;
    ws.addEventListener("message", (event) => {
      if (this.ws === ws) this.receive(event.data);
    });
    ws.addEventListener("close", () => {
      if (this.ws !== ws) return;
      this.ws = null;
      this.ready = false;
      this.stopPing();
      if (!this.stopped) this.scheduleRetry();
    });
  }

  receive(text) {
    let message;
    try {
      message = JSON.parse(text);
    } catch {
      return;
    }
    if (!message || typeof message !== "object") return;
    clearTimeout(this.pongTimer);
    if (message.type === "pong") return;
    this.handle(message);
  }

  /** The server's first message arrived: the connection is usable. */
  online() {
    this.attempt = 0;
    this.ready = true;
    this.startPing();
    this.handlers.onStatus("online");
  }

  scheduleRetry() {
    this.handlers.onStatus("reconnecting");
    clearTimeout(this.retryTimer);
    const delay = backoffDelay(this.attempt);
    this.attempt += 1;
    this.retryTimer = setTimeout(() => this.checkThenOpen(), delay);
  }

  async checkThenOpen() {
    try {
      const me = await api.me();
      if (!this.allowed(me)) {
        this.stop();
        this.handlers.onForbidden?.();
        return;
      }
    } catch (err) {
      if (err.status === 401) {
        this.stop();
        this.handlers.onSessionLost?.();
        return;
      }
      // server unreachable: keep trying with the backoff
    }
    if (!this.stopped && !this.ws) this.open();
  }

  reconnectNow() {
    if (this.stopped) return;
    this.drop();
    this.attempt = 0;
    clearTimeout(this.retryTimer);
    this.open();
  }

  /** Forget the current socket at once; a dead link's close handshake can take minutes. */
  drop() {
    this.stopPing();
    const ws = this.ws;
    this.ws = null;
    this.ready = false;
    if (ws) ws.close(1000);
  }

  startPing() {
    this.stopPing();
    this.pingTimer = setInterval(() => {
      if (!this.send({ type: "ping" })) return;
      clearTimeout(this.pongTimer);
      this.pongTimer = setTimeout(() => {
        if (this.stopped) return;
        this.drop();
        this.scheduleRetry();
      }, PONG_WITHIN_MS);
    }, PING_EVERY_MS);
  }

  stopPing() {
    clearInterval(this.pingTimer);
    clearTimeout(this.pongTimer);
  }
}
