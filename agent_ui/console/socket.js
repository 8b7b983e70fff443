// The console's live connection to /agent/ws (docs/protocol.md), kept alive across drops.
//
// It remembers the last numbered event (seq) it delivered and reconnects with
// ?last_seq=N, so the server replays exactly what was missed; events at or below that
// number are dropped, so a replay overlapping live delivery changes nothing. A gap in the
// numbers means the console's picture can no longer be trusted: it reconnects without
// last_seq and rebuilds from the server's snapshot.

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

export class ConsoleSocket {
  /**
   * handlers: onHello(hello), onEvent(message), onStatus("connecting"|"online"|"reconnecting"|"offline"),
   * onSessionLost() when the server no longer knows the session (show the login form).
   */
  constructor(handlers) {
    this.handlers = handlers;
    this.ws = null;
    this.lastSeq = null;
    this.attempt = 0;
    this.stopped = true;
    this.retryTimer = null;
    this.pingTimer = null;
    this.pongTimer = null;
    this.ready = false;
    this.onBrowserOnline = () => this.reconnectNow();
  }

  start() {
    this.stopped = false;
    this.attempt = 0;
    window.addEventListener("online", this.onBrowserOnline);
    this.open();
  }

  /** Close for good (logout): no reconnect, and the next start() takes a fresh snapshot. */
  stop() {
    this.stopped = true;
    window.removeEventListener("online", this.onBrowserOnline);
    clearTimeout(this.retryTimer);
    this.drop();
    this.lastSeq = null;
    this.handlers.onStatus("offline");
  }

  /** Send one agent message; false if there is no open connection to take it right now. */
  send(message) {
    if (!this.ws || !this.ready || this.ws.readyState !== WebSocket.OPEN) return false;
    this.ws.send(JSON.stringify(message));
    return true;
  }

  get connected() {
    return this.ready;
  }

  open() {
    const url = new URL("/agent/ws", window.location.href);
    url.protocol = window.location.protocol === "https:" ? "wss:" : "ws:";
    if (this.lastSeq !== null) url.searchParams.set("last_seq", String(this.lastSeq));
    this.handlers.onStatus(this.lastSeq === null && this.attempt === 0 ? "connecting" : "reconnecting");
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
    this.lastMessageAt = Date.now();
    clearTimeout(this.pongTimer);
    if (message.type === "hello") {
      this.attempt = 0;
      this.ready = true;
      if (!message.resumed) this.lastSeq = message.seq;
      this.startPing();
      this.handlers.onStatus("online");
      this.handlers.onHello(message);
      return;
    }
    if (typeof message.seq === "number") {
      if (this.lastSeq !== null && message.seq <= this.lastSeq) return; // already applied
      if (this.lastSeq !== null && message.seq !== this.lastSeq + 1) {
        console.warn(`event ${message.seq} after ${this.lastSeq}: rebuilding from a fresh snapshot`);
        this.lastSeq = null;
        this.reconnectNow();
        return;
      }
      this.lastSeq = message.seq;
    }
    this.handlers.onEvent(message);
  }

  scheduleRetry() {
    this.handlers.onStatus("reconnecting");
    clearTimeout(this.retryTimer);
    const delay = backoffDelay(this.attempt);
    this.attempt += 1;
    this.retryTimer = setTimeout(() => this.checkSessionThenOpen(), delay);
  }

  /** A refused upgrade (401) looks like any other close to a browser: ask the API which it was. */
  async checkSessionThenOpen() {
    try {
      await api.me();
    } catch (err) {
      if (err.status === 401) {
        this.stop();
        this.handlers.onSessionLost();
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
