// The supervisor's live connection to /supervisor/ws (docs/metrics.md), kept alive across drops.
//
// Nothing here is numbered or replayed: every connection starts with a full snapshot and
// every update carries the whole state, so after a drop the view simply reconnects and
// takes the next snapshot.

import { LiveSocket } from "../live_socket.js";

export class SupervisorSocket extends LiveSocket {
  /**
   * handlers: onMessage(message), onStatus(status), onSessionLost() when the session is gone,
   * onForbidden() when the account may not supervise.
   */
  constructor(handlers) {
    super("/supervisor/ws", handlers);
  }

  allowed(me) {
    return ["supervisor", "admin"].includes(me.agent?.role);
  }

  handle(message) {
    if (message.type === "snapshot") this.online();
    this.handlers.onMessage(message);
  }
}
