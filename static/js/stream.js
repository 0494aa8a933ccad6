// Seismo live stream client (no build step). See docs/stream-protocol.md.
//
//   SeismoStream.subscribe([SeismoStream.topics.system], (message) => …)
//   SeismoStream.unsubscribe([SeismoStream.topics.system], handler)
//   SeismoStream.topics                     // the topic names, from the server (#seismo-topics)
//   SeismoStream.state                      // "connecting" | "open" | "closed"
//   document.addEventListener("seismo:stream-state", (e) => e.detail.state)
//
// Reconnects with exponential backoff and jitter, resubscribes, tells the server the last
// sequence number and, per topic, the last frame id it saw (the server replays what was missed
// or answers `resync`), and queues messages sent while offline. Compact metric frames (a
// schema of series sent once, then bare values) are expanded back into
// `samples: [{metric, labels, value}]` before handlers see them.
(function () {
  "use strict";
  const handlers = new Map(); // topic -> Set(handler)
  const outbox = [];
  let socket = null;
  let attempt = 0;
  let lastSeq = 0;
  const lastIds = new Map(); // topic -> id of the last frame seen (for replay on reconnect)
  const schemas = new Map(); // topic -> {id, series}
  let state = "connecting";
  const statusEl = () => document.getElementById("stream-status");
  // Topic names come from the server (monitoring/topics.py, via base.html), never a copy here.
  const topicsEl = document.getElementById("seismo-topics");
  const TOPICS = Object.freeze(topicsEl ? JSON.parse(topicsEl.textContent) : {});

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

  // Compact frame -> samples (see lib/streamcodec.py, the reference decoder).
  function decode(message) {
    if (message.schema === undefined) return message;
    if (message.series) schemas.set(message.topic, { id: message.schema, series: message.series });
    const known = schemas.get(message.topic);
    if (!known || known.id !== message.schema) return null; // cannot happen unless state was lost
    const samples = known.series.map(([metric, labels], i) => ({ metric, labels, value: message.values[i] }));
    const out = Object.assign({}, message, { samples });
    delete out.schema; delete out.series; delete out.values;
    return out;
  }

  function resync(detail) {
    document.dispatchEvent(new CustomEvent("seismo:stream-resync", { detail }));
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
      schemas.clear(); // a new socket starts every topic with its schema
      const since = {};
      for (const topic of topics) if (lastIds.has(topic)) since[topic] = lastIds.get(topic);
      if (topics.length) socket.send(JSON.stringify({ type: "subscribe", topics, last_seq: lastSeq, since }));
      while (outbox.length) socket.send(JSON.stringify(outbox.shift()));
    };
    socket.onmessage = (event) => {
      let message;
      try { message = JSON.parse(event.data); } catch (err) { return; }
      if (typeof message.seq === "number") lastSeq = message.seq;
      if (message.type === "resync" || message.type === "lagging") { resync(message); return; }
      if (message.type === "error") { console.warn("stream:", message.reason); return; }
      if (message.topic && typeof message.id === "number") lastIds.set(message.topic, message.id);
      const decoded = decode(message);
      if (decoded) deliver(decoded);
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
    topics: TOPICS,
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
        if (!set.size) { handlers.delete(topic); lastIds.delete(topic); schemas.delete(topic); gone.push(topic); }
      }
      if (gone.length) send({ type: "unsubscribe", topics: gone });
    },
  };
  connect();
})();
