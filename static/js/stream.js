// Seismo live stream client (no build step). See docs/stream-protocol.md.
//
//   SeismoStream.subscribe(["system-metrics"], (message) => …)
//   SeismoStream.unsubscribe(["system-metrics"], handler)
//   SeismoStream.state                      // "connecting" | "open" | "closed"
//   document.addEventListener("seismo:stream-state", (e) => e.detail.state)
//
// Reconnects with exponential backoff and jitter, resubscribes, tells the server the last
// sequence number it saw (the server replays or answers `resync`), and queues messages sent
// while offline.
(function () {
  "use strict";
  const handlers = new Map(); // topic -> Set(handler)
  const outbox = [];
  let socket = null;
  let attempt = 0;
  let lastSeq = 0;
  let state = "connecting";
  const statusEl = () => document.getElementById("stream-status");

  function setState(next) {
    state = next;
    const el = statusEl();
    if (el) {
      el.dataset.state = next;
      const label = el.querySelector(".label");
      if (label) label.textContent = next === "open" ? "live" : next;
    }
    document.dispatchEvent(new CustomEvent("seismo:stream-state", { detail: { state: next } }));
  }

  function send(message) {
    if (socket && socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify(message));
    else outbox.push(message);
  }

  function deliver(message) {
    const topic = message.topic || message.type;
    const set = handlers.get(topic);
    if (!set) return;
    for (const handler of Array.from(set)) {
      try { handler(message); } catch (err) { console.error("stream handler failed", err); }
    }
  }

  function connect() {
    setState("connecting");
    const proto = location.protocol === "https:" ? "wss" : "ws";
    socket = new WebSocket(`${proto}://${location.host}/ws/metrics/`);
    socket.onopen = () => {
      attempt = 0;
      setState("open");
      const topics = Array.from(handlers.keys());
      if (topics.length) socket.send(JSON.stringify({ type: "subscribe", topics, last_seq: lastSeq }));
      while (outbox.length) socket.send(JSON.stringify(outbox.shift()));
    };
    socket.onmessage = (event) => {
      let message;
      try { message = JSON.parse(event.data); } catch (err) { return; }
      if (typeof message.seq === "number") lastSeq = message.seq;
      if (message.type === "resync") {
        document.dispatchEvent(new CustomEvent("seismo:stream-resync", { detail: message }));
        return;
      }
      if (message.type === "error") { console.warn("stream:", message.reason); return; }
      deliver(message);
    };
    socket.onclose = (event) => {
      setState("closed");
      if (event.code === 4401) return; // logged out: a reload shows the login page
      attempt += 1;
      const base = Math.min(15000, 500 * 2 ** Math.min(attempt, 5));
      setTimeout(connect, base / 2 + Math.random() * base / 2);
    };
  }

  window.SeismoStream = {
    get state() { return state; },
    subscribe(topics, handler) {
      const fresh = [];
      for (const topic of topics) {
        if (!handlers.has(topic)) { handlers.set(topic, new Set()); fresh.push(topic); }
        handlers.get(topic).add(handler);
      }
      if (fresh.length) send({ type: "subscribe", topics: fresh });
    },
    unsubscribe(topics, handler) {
      const gone = [];
      for (const topic of topics) {
        const set = handlers.get(topic);
        if (!set) continue;
        set.delete(handler);
        if (!set.size) { handlers.delete(topic); gone.push(topic); }
      }
      if (gone.length) send({ type: "unsubscribe", topics: gone });
    },
  };
  connect();
})();
