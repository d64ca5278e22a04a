/**
 * hub.js: a dependency-free browser client of the live protocol v1 (docs/protocol.md),
 * with the guarantees of hub/client.py: no event lost or doubled across a reconnect.
 *
 *   import { Hub } from "/static/web/hub.js";
 *   const hub = new Hub(null, { cookie: true }, { onState: (s) => banner(s) });
 *   await hub.connect();
 *   await hub.subscribe(`user:${hub.userId}`, (e) => render(e), { onResync: refetch });
 *
 * Documented in docs/hubjs.md.
 */

/** Close codes after which reconnecting cannot help (a refused token, a client bug, a
 *  refused origin): the same set as hub/client.py. */
export const FINAL_CLOSE_CODES = new Set([1003, 1008, 1009, 4001]);

/** The server closes a connection whose frame is over 64 KiB (1009, final): refuse such a
 *  frame here instead, so one oversized publish cannot end the connection for good. */
const MAX_FRAME_BYTES = 65536;

/** Resubscription refusals that retrying cannot change (the user lost access, say): the
 *  topic is dropped with a warning instead of failing the whole reconnect. */
const REFUSALS = new Set(["forbidden", "not_found", "bad_request", "limit_exceeded"]);

/** An `ok: false` reply (`code` from the protocol's list), or a request that got no reply:
 *  `timeout`, `closed` (the socket dropped first; a publish may or may not have taken
 *  effect), `offline` (not sent at all) or `too_large`. */
export class HubError extends Error {
  constructor(code, message, retryAfter = null) {
    super(`${code}: ${message}`);
    this.name = "HubError";
    this.code = code;
    this.message = message;
    this.retry_after = retryAfter;
  }
}

export class Hub {
  /**
   * @param {string|null} url  ws(s)://host/ws/v1/; null: this page's own server.
   * @param {{token?: string, cookie?: boolean}} credentials  an API token, or
   *   `{cookie: true}` for a same-origin page signed in by its session cookie.
   * @param {{onState?: (state: string, detail: {code?: number, final?: boolean}) => void,
   *          timeout?: number, maxDelay?: number}} options  `onState` hears
   *   `connecting` / `online` / `offline`; `timeout` is the default per request (ms);
   *   `maxDelay` caps the reconnect backoff (ms).
   */
  constructor(url, credentials = {}, options = {}) {
    const scheme = globalThis.location?.protocol === "https:" ? "wss" : "ws";
    this.url = url || `${scheme}://${globalThis.location?.host}/ws/v1/`;
    this.credentials = credentials;
    this.onState = options.onState || (() => {});
    this.timeout = options.timeout ?? 10000;
    this.maxDelay = options.maxDelay ?? 10000;
    this.state = "offline";
    this.userId = null;
    this.connectionId = null;
    this.closeCode = null;
    /** Events dropped for a seq already seen; the server owes none, so it stays 0. */
    this.duplicates = 0;
    /** topic -> {seq, epoch, presence, listeners}: where to resume from, and who is told. */
    this.topics = new Map();
    this._ws = null;
    this._ref = 0;
    this._pending = new Map(); // ref -> {resolve, reject, timer, onReply}
    this._failures = 0;
    this._timer = null;
    this._closing = false;
    this._resumable = false; // online once: from then on a drop reconnects by itself
  }

  /** Open the socket and authenticate. Rejects if this first attempt fails (a refused
   *  token: HubError `unauthorized`); after it succeeds, drops reconnect by themselves. */
  async connect() {
    this._closing = false;
    clearTimeout(this._timer);
    if (this.state !== "offline") return { user_id: this.userId, connection_id: this.connectionId };
    return this._attempt();
  }

  /** Close with 1000 and stop reconnecting. */
  close() {
    this._closing = true;
    clearTimeout(this._timer);
    if (this._ws) this._ws.close(1000);
    this._ws = null;
    this._dropped(1000);
  }

  /**
   * Send one command and resolve with its reply's `data`. Each command carries a fresh
   * integer `ref` and the server answers each exactly once, so replies are matched by
   * `ref`, never by order. Nothing is queued while disconnected: the caller decides
   * whether a retry is safe (a publish with the same `client_id` is).
   * @returns {Promise<object>} rejects with HubError (`code`, `message`, `retry_after`).
   */
  request(op, fields = {}, { timeout = this.timeout, onReply = null } = {}) {
    return new Promise((resolve, reject) => {
      const ws = this._ws;
      if (!ws || ws.readyState !== WebSocket.OPEN) {
        reject(new HubError("offline", "Not connected."));
        return;
      }
      const ref = ++this._ref;
      const text = JSON.stringify({ ...fields, op, ref });
      if (new TextEncoder().encode(text).length > MAX_FRAME_BYTES) {
        reject(new HubError("too_large", "The command is over 64 KiB."));
        return;
      }
      const timer = setTimeout(() => {
        this._pending.delete(ref); // a late reply is ignored
        reject(new HubError("timeout", `No reply to ${op} within ${timeout} ms.`));
      }, timeout);
      this._pending.set(ref, { resolve, reject, timer, onReply });
      ws.send(text);
    });
  }

  /**
   * Follow a topic: `onEvent({topic, type, data, ts, seq})` gets each event once, in seq
   * order (`seq` is undefined for ephemeral ones), across reconnects. When the server
   * cannot replay what was missed (`recovered: false` on a resubscription: another
   * epoch, past retention or the replay limit), `onResync(topic, reply)` is called
   * before any later event of the topic: reload that topic's state over REST.
   * Several parts of a page may follow one topic: each call adds its callbacks, and
   * every one of them gets every event (the topic is subscribed on the socket once).
   * @returns {Promise<object>} the subscribe reply's data.
   */
  async subscribe(topic, onEvent, { onResync = () => {}, timeout } = {}) {
    const listener = { onEvent, onResync };
    const known = this.topics.get(topic);
    if (known) {
      known.listeners.add(listener);
      return this.request("subscribe", { topic }, { timeout });
    }
    const position = { seq: 0, epoch: null, presence: [], listeners: new Set([listener]) };
    try {
      return await this._subscribe(topic, position, timeout);
    } catch (error) {
      if (this.topics.get(topic) === position) this.topics.delete(topic);
      throw error;
    }
  }

  /** Stop following a topic: the callbacks given with `onEvent`, or all of them. The
   *  socket unsubscribes once nobody follows it; its late events are dropped at once. */
  unsubscribe(topic, onEvent) {
    const position = this.topics.get(topic);
    if (position && onEvent) {
      for (const listener of position.listeners) {
        if (listener.onEvent === onEvent) position.listeners.delete(listener);
      }
      if (position.listeners.size) return Promise.resolve({});
    }
    this.topics.delete(topic);
    return this.request("unsubscribe", { topic });
  }

  /** Publish on a topic (needs the right to subscribe, not a subscription). */
  publish(topic, type, data = {}, options = {}) {
    return this.request("publish", { topic, type, data }, options);
  }

  /** Send `subscribe`, with `since`/`epoch` when resuming. The position is updated in the
   *  reply's handler, before any replayed or live frame behind it is read. */
  _subscribe(topic, position, timeout) {
    const resuming = position.epoch !== null;
    const fields = resuming ? { topic, since: position.seq, epoch: position.epoch } : { topic };
    this.topics.set(topic, position);
    const onReply = (data) => {
      if (!data.recovered) {
        position.seq = data.seq; // carry on from here: older seqs mean nothing now
        if (resuming) for (const listener of position.listeners) listener.onResync(topic, data);
      }
      position.epoch = data.epoch;
      position.presence = data.presence || [];
    };
    return this.request("subscribe", fields, { timeout, onReply });
  }

  /** One connection attempt: open, authenticate, resubscribe every followed topic.
   *  `subscribe` is sent right behind `auth` (the protocol runs commands in order). */
  _attempt() {
    this._setState("connecting");
    const ws = new WebSocket(this.url);
    this._ws = ws;
    ws.onmessage = (message) => ws === this._ws && this._receive(message.data);
    return new Promise((resolve, reject) => {
      ws.onclose = (closed) => {
        if (ws === this._ws) {
          this._ws = null;
          this._dropped(closed.code);
        }
        reject(new HubError("closed", `Connection closed (${closed.code}).`));
      };
      ws.onopen = async () => {
        try {
          const token = this.credentials.token ? { token: this.credentials.token } : {};
          const auth = this.request("auth", token);
          const resubscribed = [...this.topics].map(([topic, position]) =>
            this._subscribe(topic, position).catch((error) => {
              if (!REFUSALS.has(error.code)) throw error; // e.g. unavailable: try again later
              console.warn(`hub.js: dropped ${topic} on resubscribing:`, error);
              if (this.topics.get(topic) === position) this.topics.delete(topic);
            }),
          );
          const [data] = await Promise.all([auth, ...resubscribed]);
          this.userId = data.user_id;
          this.connectionId = data.connection_id;
          this._failures = 0;
          this._resumable = true;
          this._setState("online");
          resolve(data);
        } catch (error) {
          // A refused token is closed by the server with 4001 (final); anything else
          // (a timeout, the database briefly away): close, and the backoff tries again.
          if (error.code !== "unauthorized" && ws.readyState === WebSocket.OPEN) ws.close(4000);
          reject(error);
        }
      };
    });
  }

  /** The socket is gone: fail what waits for a reply, then reconnect unless that
   *  cannot help (a final close code) or nobody asked (close(), a failed first connect). */
  _dropped(code) {
    this.closeCode = code;
    for (const { reject, timer } of this._pending.values()) {
      clearTimeout(timer);
      reject(new HubError("closed", `Connection closed (${code}).`));
    }
    this._pending.clear();
    const final = FINAL_CLOSE_CODES.has(code);
    this._setState("offline", { code, final });
    if (this._closing || final || !this._resumable) return;
    // Jittered exponential backoff, so a restarted server is not hit by every tab at once.
    const delay = Math.min(this.maxDelay, 250 * 2 ** this._failures) * (0.5 + Math.random() / 2);
    this._failures += 1;
    clearTimeout(this._timer);
    this._timer = setTimeout(() => this._attempt().catch(() => {}), delay);
  }

  _receive(text) {
    let frame;
    try {
      frame = JSON.parse(text);
    } catch {
      console.warn("hub.js: unparseable frame", text);
      return;
    }
    if (frame.op === "reply") {
      const pending = this._pending.get(frame.ref);
      if (!pending) return; // timed out already
      this._pending.delete(frame.ref);
      clearTimeout(pending.timer);
      if (!frame.ok) {
        const { code, message, retry_after: retryAfter } = frame.error || {};
        pending.reject(new HubError(code, message, retryAfter ?? null));
        return;
      }
      try {
        if (pending.onReply) pending.onReply(frame.data); // before any frame behind it
      } catch (error) {
        console.error("hub.js: an onResync callback failed", error);
      }
      pending.resolve(frame.data);
    } else if (frame.op === "event") {
      const position = this.topics.get(frame.topic);
      if (!position) return; // unsubscribed meanwhile
      if (frame.seq !== undefined) {
        // At or below the last seq seen: already delivered (the replay/live seam).
        if (frame.seq <= position.seq) {
          this.duplicates += 1;
          return;
        }
        position.seq = frame.seq;
      }
      const { topic, type, data, ts, seq } = frame;
      for (const listener of position.listeners) {
        try {
          listener.onEvent({ topic, type, data, ts, seq });
        } catch (error) {
          console.error("hub.js: an onEvent callback failed", error); // never stop the stream
        }
      }
    } else if (frame.op === "error") {
      console.warn("hub.js: the server refused a frame", frame.error);
    }
  }

  _setState(state, detail = {}) {
    if (state === this.state) return;
    this.state = state;
    try {
      this.onState(state, detail);
    } catch (error) {
      console.error("hub.js: an onState callback failed", error);
    }
  }
}
