// The console's live connection to /agent/ws (docs/protocol.md), kept alive across drops.
//
// It remembers the last numbered event (seq) it delivered and reconnects with
// ?last_seq=N, so the server replays exactly what was missed; events at or below that
// number are dropped, so a replay overlapping live delivery changes nothing. A gap in the
// numbers means the console's picture can no longer be trusted: it reconnects without
// last_seq and rebuilds from the server's snapshot.

import { LiveSocket, backoffDelay } from "./live_socket.js";

export { backoffDelay };

export class ConsoleSocket extends LiveSocket {
  /** handlers: onHello(hello), onEvent(message), onStatus(status), onSessionLost(). */
  constructor(handlers) {
    super("/agent/ws", handlers);
    this.lastSeq = null;
  }

  params() {
    return this.lastSeq === null ? {} : { last_seq: this.lastSeq };
  }

  resuming() {
    return this.lastSeq !== null;
  }

  /** Close for good (logout): the next start() takes a fresh snapshot. */
  stop() {
    super.stop();
    this.lastSeq = null;
  }

  handle(message) {
    if (message.type === "hello") {
      if (!message.resumed) this.lastSeq = message.seq;
      this.online();
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
}
