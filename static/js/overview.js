// The overview: key-metric cards follow the stream; the stream's own state shows as a component.
(function () {
  "use strict";
  const cards = Array.from(document.querySelectorAll(".metric-card"));
  const history = new Map(cards.map((c) => [c, []]));

  function show(card, ts, value) {
    const out = card.querySelector(".card-value");
    out.textContent = SeismoFormat.value(value, card.dataset.unit);
    out.dataset.value = String(value);
    const points = history.get(card);
    points.push([ts, value]);
    if (points.length > 60) points.shift();
    if (points.length > 1) card.querySelector(".spark").replaceWith(SeismoWidgets.sparkline(points));
  }

  // One value per card per batch: several series of a metric add up (sum) or the worst wins (max),
  // the same rule the server used for the first value.
  function onMessage(message) {
    const ts = SeismoWidgets.toEpoch(message.ts) || Date.now() / 1000;
    const samples = message.samples || [];
    for (const card of cards) {
      const values = samples.filter((s) => s.metric === card.dataset.metric && s.value !== null).map((s) => Number(s.value));
      if (!values.length) continue;
      show(card, ts, card.dataset.combine === "sum" ? values.reduce((a, b) => a + b, 0) : Math.max(...values));
    }
  }

  function streamState(state) {
    const item = document.getElementById("stream-component");
    if (!item) return;
    const health = { open: "healthy", connecting: "degraded", closed: "failing" }[state] || "degraded";
    item.className = "component " + health;
    item.querySelector(".state").textContent = health + " (" + state + ")";
  }

  if (window.SeismoStream) {
    SeismoStream.subscribe(Array.from(new Set(cards.map((c) => c.dataset.topic))), onMessage);
    streamState(SeismoStream.state);
  }
  document.addEventListener("seismo:stream-state", (e) => streamState((e.detail && e.detail.state) || (window.SeismoStream || {}).state));
  // The header indicator (kept by stream.js) is the source of truth for the state.
  const indicator = document.getElementById("stream-status");
  if (indicator) {
    new MutationObserver(() => streamState(indicator.dataset.state)).observe(indicator, { attributes: true, attributeFilter: ["data-state"] });
    streamState(indicator.dataset.state);
  }
  // The components list is re-rendered by HTMX every 5 s: restore the stream item's state.
  document.body.addEventListener("htmx:afterSwap", () => streamState(indicator ? indicator.dataset.state : "connecting"));
})();
