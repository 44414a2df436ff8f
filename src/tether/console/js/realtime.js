// Cumulocity real-time notifications (Bayeux over long-polling) at /notification/realtime, with the bearer
// token in the Authorization header. One client per session; pages subscribe to channels such as
// "/measurements/42" and get each notification's {realtimeAction, data}.

import { api } from "./api.js";

const PATH = "/notification/realtime";

class Realtime {
  constructor() {
    this.clientId = null;
    this.listeners = new Map(); // channel -> Set(callback)
    this.running = false;
    this.generation = 0;
    this.controller = null;
    this.pending = Promise.resolve();
    this.resetReady();
  }

  // Resolved once the session's handshake has subscribed the channels asked for so far.
  resetReady() {
    this.ready = new Promise((resolve) => {
      this.markReady = resolve;
    });
  }

  // Call `callback(notification)` for each message on `channel`; returns the unsubscribe function, whose
  // `ready` promise resolves once the server has the subscription (what changes after it is heard).
  subscribe(channel, callback) {
    let set = this.listeners.get(channel);
    const fresh = !set;
    if (fresh) {
      set = new Set();
      this.listeners.set(channel, set);
    }
    set.add(callback);
    const ready = fresh && this.clientId ? this.queue(() => this.send([{ channel: "/meta/subscribe", subscription: channel }])) : this.ready;
    this.start();
    const unsubscribe = () => {
      set.delete(callback);
      if (set.size === 0 && this.listeners.get(channel) === set) {
        this.listeners.delete(channel);
        if (this.clientId) this.queue(() => this.send([{ channel: "/meta/unsubscribe", subscription: channel }]));
      }
    };
    unsubscribe.ready = ready;
    return unsubscribe;
  }

  queue(work) {
    this.pending = this.pending.then(work).catch(() => {});
    return this.pending;
  }

  async send(messages, signal) {
    const batch = messages.map((m) => ({ ...m, clientId: this.clientId }));
    const replies = await api(PATH, { method: "POST", body: batch, signal });
    this.deliver(replies);
    return replies;
  }

  deliver(replies) {
    for (const message of replies || []) {
      if (message.channel && !message.channel.startsWith("/meta/") && message.data !== undefined) {
        // A message names its object's channel (/alarms/42); a wildcard subscription (/alarms/*) hears it too.
        const wildcard = message.channel.replace(/\/[^/]+$/, "/*");
        const callbacks = [...(this.listeners.get(message.channel) || []), ...(this.listeners.get(wildcard) || [])];
        for (const callback of callbacks) {
          try {
            callback(message.data);
          } catch (error) {
            console.error(error);
          }
        }
      }
    }
  }

  start() {
    if (this.running) return;
    this.running = true;
    this.loop(++this.generation);
  }

  stop() {
    this.running = false;
    this.generation++;
    this.clientId = null;
    this.resetReady();
    if (this.controller) this.controller.abort();
  }

  async handshake() {
    const replies = await api(PATH, {
      method: "POST",
      body: [{ channel: "/meta/handshake", version: "1.0", supportedConnectionTypes: ["long-polling"], advice: { timeout: 25000, interval: 0 } }],
    });
    const reply = replies[0];
    if (!reply || !reply.successful) throw new Error(reply ? reply.error : "handshake failed");
    this.clientId = reply.clientId;
    const channels = [...this.listeners.keys()];
    if (channels.length) await this.send(channels.map((c) => ({ channel: "/meta/subscribe", subscription: c })));
    this.markReady();
  }

  async loop(generation) {
    let failures = 0;
    while (this.running && generation === this.generation) {
      try {
        if (!this.clientId) await this.handshake();
        this.controller = new AbortController();
        await this.pending;
        const replies = await this.send([{ channel: "/meta/connect", connectionType: "long-polling" }], this.controller.signal);
        const connect = replies.find((m) => m.channel === "/meta/connect");
        if (connect && !connect.successful) this.clientId = null; // unknown client: handshake again
        failures = 0;
      } catch (error) {
        if (!this.running || generation !== this.generation) return;
        if (error.status === 401) return this.stop();
        this.clientId = null;
        failures++;
        await new Promise((resolve) => setTimeout(resolve, Math.min(30000, 500 * 2 ** failures)));
      }
    }
  }
}

export const realtime = new Realtime();
