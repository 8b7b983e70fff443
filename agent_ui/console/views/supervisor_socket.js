// The supervisor's live connection to /supervisor/ws (docs/metrics.md), kept alive across drops.
//
// Nothing here is numbered or replayed: every connection starts with a full snapshot and
// every update carries the whole state, so after a drop the view simply reconnects
// (exponential backoff with jitter, like the agent socket) and takes the next snapshot.

import { api } from "../api.js";
import { backoffDelay } from "../socket.js";

const PING_EVERY_MS = 20_000;
const PONG_WITHIN_MS = 10_000;

export class SupervisorSocket {
  /**
   * handlers: onMessage(message), onStatus("connecting"|"online"|"reconnecting"|"offline"),
   * onSessionLost() when the session is gone, onForbidden() when the account may not supervise.
   */
  constructor(handlers) {
    this.handlers = handlers;
    this.ws = null;
    this.stopped = true;
    this.attempt = 0;
    this.retryTimer = null;
    this.pingTimer = null;
    this.pongTimer = null;
  }

  start() {
    if (!this.stopped) return;
    this.stopped = false;
    this.attempt = 0;
    this.open();
  }

  stop() {
    this.stopped = true;
    clearTimeout(this.retryTimer);
    this.drop();
    this.handlers.onStatus("offline");
  }

  open() {
    const url = new URL("/supervisor/ws", window.location.href);
    url.protocol = window.location.protocol === "https:" ? "wss:" : "ws:";
    this.handlers.onStatus(this.attempt === 0 ? "connecting" : "reconnecting");
    const ws = new WebSocket(url);
    this.ws = ws;
    ws.addEventListener("message", (event) => {
      if (this.ws === ws) this.receive(event.data);
    });
    ws.addEventListener("close", () => {
      if (this.ws !== ws) return;
      this.ws = null;
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
    if (message.type === "snapshot") {
      this.attempt = 0;
      this.startPing();
      this.handlers.onStatus("online");
    }
    if (message.type !== "pong") this.handlers.onMessage(message);
  }

  scheduleRetry() {
    this.handlers.onStatus("reconnecting");
    clearTimeout(this.retryTimer);
    const delay = backoffDelay(this.attempt);
    this.attempt += 1;
    this.retryTimer = setTimeout(() => this.checkThenOpen(), delay);
  }

  /** A refused upgrade is just a close to the browser: the API says whether it was the session. */
  async checkThenOpen() {
    try {
      const me = await api.me();
      if (!["supervisor", "admin"].includes(me.agent?.role)) {
        this.stop();
        this.handlers.onForbidden();
        return;
      }
    } catch (err) {
      if (err.status === 401) {
        this.stop();
        this.handlers.onSessionLost();
        return;
      }
    }
    if (!this.stopped && !this.ws) this.open();
  }

  drop() {
    this.stopPing();
    const ws = this.ws;
    this.ws = null;
    if (ws) ws.close(1000);
  }

  startPing() {
    this.stopPing();
    this.pingTimer = setInterval(() => {
      if (!this.ws || this.ws.readyState !== WebSocket.OPEN) return;
      this.ws.send(JSON.stringify({ type: "ping" }));
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
