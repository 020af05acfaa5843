// One conversation's WebSocket: JSON frames in and out, reconnect with backoff and jitter.
//
// States: "connecting", "open", "reconnecting" (waiting before the next try), "ended"
// (close code 1008: the session is gone, so retrying would never succeed), "closed".

const SESSION_ENDED = 1008;
const FAIR_USE = 4429; // refused by a per-user limit (too many sockets or reconnects): retry slowly
const FAIR_USE_ATTEMPT = 5; // backoff attempt to resume from after FAIR_USE (8-15 s)
const BASE_DELAY = 500; // ms before the first retry
const MAX_DELAY = 15000; // ms cap on the wait between retries

export function backoffDelay(attempt, random = Math.random) {
  const ceiling = Math.min(MAX_DELAY, BASE_DELAY * 2 ** attempt);
  return Math.round(ceiling / 2 + random() * (ceiling / 2)); // "equal jitter"
}

export class ConversationSocket {
  constructor(conversationId, { onFrame, onState, path = `/ws/conversations/${conversationId}/` }) {
    this.url = `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}${path}`;
    this.onFrame = onFrame;
    this.onState = onState;
    this.attempt = 0;
    this.ws = null;
    this.timer = null;
    this.stopped = false;
    this.onOnline = () => this.retryNow();
    window.addEventListener("online", this.onOnline);
    this.connect();
  }

  connect() {
    clearTimeout(this.timer);
    this.setState("connecting");
    const ws = new WebSocket(this.url);
    this.ws = ws;
    ws.addEventListener("open", () => {
      this.attempt = 0;
      this.setState("open");
    });
    ws.addEventListener("message", (event) => {
      let frame;
      try {
        frame = JSON.parse(event.data);
      } catch {
        return;
      }
      if (frame && typeof frame.type === "string") this.onFrame(frame);
    });
    ws.addEventListener("close", (event) => {
      if (ws !== this.ws || this.stopped) return;
      if (event.code === SESSION_ENDED) {
        this.setState("ended");
        return;
      }
      if (event.code === FAIR_USE) this.attempt = Math.max(this.attempt, FAIR_USE_ATTEMPT);
      this.scheduleRetry();
    });
  }

  scheduleRetry() {
    const delay = backoffDelay(this.attempt++);
    this.setState("reconnecting", { delay, attempt: this.attempt });
    this.timer = setTimeout(() => this.connect(), delay);
  }

  retryNow() {
    if (this.state === "reconnecting") this.connect();
  }

  send(frame) {
    if (!this.ws || this.ws.readyState !== WebSocket.OPEN) return false;
    this.ws.send(JSON.stringify(frame));
    return true;
  }

  get isOpen() {
    return this.state === "open";
  }

  setState(state, detail = {}) {
    this.state = state;
    this.onState(state, detail);
  }

  close() {
    this.stopped = true;
    clearTimeout(this.timer);
    window.removeEventListener("online", this.onOnline);
    if (this.ws) this.ws.close(1000);
    this.ws = null;
    this.state = "closed";
  }
}
