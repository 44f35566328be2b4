// /v1/stream with first-message auth, resume from the last sequence (after + epoch), a REST
// reload on resync_required, and reconnection with backoff (0.5 s doubling to 5 s; the server
// keeps a dropped console present for a grace, 60 s, well beyond it). The open socket is the
// counselor's presence; its pings are the heartbeat; closing it, or the page, ends it at once.
import { refresh, token, on as onSession } from "./session.js";

export class Stream {
  constructor({ onEvent, onResync, onStatus }) {
    this.onEvent = onEvent;
    this.onResync = onResync;
    this.onStatus = onStatus;
    this.lastSeq = null;
    this.epoch = null;
    this.ws = null;
    this.stopped = false;
    this.retry = 0;
    this.ping = null;
    onSession("token", (fresh) => {
      if (this.ws?.readyState === WebSocket.OPEN && this.ready) {
        this.ws.send(JSON.stringify({ type: "auth", token: fresh }));
      }
    });
    // The page is going away (closed, reloaded, navigated, or frozen in the back/forward
    // cache): say so, so presence ends at once rather than after the grace the server keeps
    // for a dropped connection (a phone in a tunnel). The beacon gets out when a close frame
    // may not; the token rides in its body, never a cookie or the URL.
    this.paused = false;
    window.addEventListener("pagehide", () => this.pause());
    window.addEventListener("pageshow", (shown) => {
      if (shown.persisted && this.paused && !this.stopped) {
        this.paused = false;
        this.connect(); // back from the cache: resume from the last seq
      }
    });
  }

  pause() {
    if (this.stopped || this.paused) return;
    this.paused = true;
    clearInterval(this.ping);
    const current = token();
    if (current) navigator.sendBeacon("/v1/stream/leave", JSON.stringify({ token: current }));
    this.ws?.close(1000);
  }

  start() {
    this.stopped = false;
    this.connect();
  }

  stop() {
    this.stopped = true;
    clearInterval(this.ping);
    this.ws?.close(1000);
  }

  connect() {
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    const ws = new WebSocket(`${scheme}://${location.host}/v1/stream`);
    this.ws = ws;
    this.ready = false;
    ws.addEventListener("open", () => {
      const auth = { type: "auth", token: token() };
      if (this.lastSeq !== null) Object.assign(auth, { after: this.lastSeq, epoch: this.epoch });
      ws.send(JSON.stringify(auth));
    });
    ws.addEventListener("message", (message) => this.handle(JSON.parse(message.data)));
    ws.addEventListener("close", (closed) => this.closed(ws, closed.code));
  }

  handle(message) {
    if (message.type === "ready") {
      const first = this.lastSeq === null;
      const resumed = !first && this.epoch === message.epoch;
      this.epoch = message.epoch;
      if (first) this.lastSeq = message.head_seq;
      this.ready = true;
      this.retry = 0;
      clearInterval(this.ping);
      this.ping = setInterval(() => this.send({ type: "ping" }), 25000);
      this.onStatus("online", { resumed });
      // What committed between the page's first load and this socket's start came on neither:
      // load once more now that the feed is live, or an alert offered in that gap never shows.
      if (first) this.onResync();
    } else if (message.type === "resync_required") {
      this.lastSeq = message.head_seq;
      this.onResync();
    } else if (message.type === "event") {
      this.lastSeq = message.seq;
      this.onEvent(message);
    }
  }

  send(message) {
    if (this.ws?.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify(message));
  }

  async closed(ws, code) {
    if (ws !== this.ws) return;
    clearInterval(this.ping);
    if (this.stopped || this.paused) return;
    if (code === 4003) {
      this.onStatus("offline", { code });
      this.onStatus("refused", { code });
      return;
    }
    // 4029: this account holds too many sockets (or this network too many unauthenticated
    // ones). Say so loudly, not as a passing blip, and keep trying more slowly: a slot comes
    // back when another tab closes.
    const crowded = code === 4029;
    this.onStatus(crowded ? "crowded" : "offline", { code });
    this.retry += 1;
    const wait = crowded ? 15000 : Math.min(5000, 500 * 2 ** Math.min(this.retry, 4));
    await new Promise((resolve) => setTimeout(resolve, wait));
    if (this.stopped || this.paused) return;
    if (code === 4008 || !token()) {
      try {
        await refresh();
      } catch {
        // offline or signed out: try again after the next wait
      }
    }
    this.connect();
  }
}
