// Live updates: one WebSocket on /rpc/v1 subscribed to every journal entry.
// When it drops, it reconnects with capped exponential backoff; the owner
// re-reads the full state on every (re)connect, so nothing missed stays missed.

const FIRST_DELAY_MS = 500;
const MAX_DELAY_MS = 15_000;

/**
 * Status callbacks: onStatus({ phase, attempt, retryInMs }) where phase is
 * 'connecting' | 'live' | 'lost' | 'stopped'.
 * onEntry(entry) for every journal entry; onConnected() after each (re)subscribe;
 * onLagged() when the daemon says we fell behind.
 */
export class LiveFeed {
  constructor({ onEntry, onConnected, onLagged, onStatus, shouldRetry }) {
    Object.assign(this, { onEntry, onConnected, onLagged, onStatus, shouldRetry });
    this.socket = null;
    this.failures = 0;
    this.retryTimer = null;
    this.running = false;
  }

  start() {
    this.running = true;
    this.failures = 0;
    this.connect();
  }

  /** Close for good (logout); no reconnect. */
  stop() {
    this.running = false;
    clearTimeout(this.retryTimer);
    this.socket?.close();
    this.socket = null;
    this.onStatus({ phase: 'stopped' });
  }

  /** Skip the wait and try now. */
  retryNow() {
    if (!this.running || this.socket) return;
    clearTimeout(this.retryTimer);
    this.connect();
  }

  /** Drop the connection as a network failure would (tests and debugging). */
  drop() {
    this.socket?.close(4000, 'dropped on purpose');
  }

  connect() {
    this.onStatus({ phase: 'connecting', attempt: this.failures });
    const scheme = location.protocol === 'https:' ? 'wss' : 'ws';
    const socket = new WebSocket(`${scheme}://${location.host}/rpc/v1`);
    this.socket = socket;
    let subscribed = false;

    socket.addEventListener('open', () => {
      socket.send(JSON.stringify({ jsonrpc: '2.0', method: 'events.subscribe', id: 1 }));
    });
    socket.addEventListener('message', (message) => {
      const data = JSON.parse(message.data);
      if (data.id === 1) {
        if (data.error) {
          socket.close();
          return;
        }
        subscribed = true;
        this.failures = 0;
        this.onStatus({ phase: 'live' });
        this.onConnected();
      } else if (data.method === 'events.subscription') {
        this.onEntry(data.params.result);
      } else if (data.method === 'events.lagged') {
        this.onLagged();
      }
    });
    socket.addEventListener('close', () => {
      if (this.socket !== socket) return;
      this.socket = null;
      if (!this.running) return;
      if (!subscribed) this.failures += 1;
      this.scheduleRetry();
    });
  }

  async scheduleRetry() {
    // A refused handshake looks like any drop; ask whether we are still logged in.
    if (this.shouldRetry && !(await this.shouldRetry())) return;
    if (!this.running) return;
    const delay = backoff(this.failures);
    this.onStatus({ phase: 'lost', attempt: this.failures, retryInMs: delay });
    this.retryTimer = setTimeout(() => this.connect(), delay);
  }
}

/** 0.5 s, 1 s, 2 s … capped at 15 s, each ±20 % so many tabs do not retry in step. */
export function backoff(failures) {
  const base = Math.min(MAX_DELAY_MS, FIRST_DELAY_MS * 2 ** Math.max(0, failures - 1));
  return Math.round(base * (0.8 + Math.random() * 0.4));
}
