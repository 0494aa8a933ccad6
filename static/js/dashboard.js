// The dashboard page (and a widget's history page): range picker, variables, gridstack layout
// persistence, live points from the stream, drag-to-zoom and compare with the previous period.
(function () {
  "use strict";
  const configs = JSON.parse(document.getElementById("widget-configs").textContent || "[]");
  const form = document.getElementById("range-form");
  const rangeSelect = document.getElementById("range");
  const fromInput = document.getElementById("range-from");
  const toInput = document.getElementById("range-to");
  const liveBox = document.getElementById("live");
  const compareBox = document.getElementById("compare");
  const zoomReset = document.getElementById("zoom-reset");
  // Preset lengths, the point limit, the metric topics and the grid's width come from the server
  // (chart-settings).
  const { ranges: RANGES, max_points: MAX_POINTS, topics: METRIC_TOPICS, grid_columns: COLUMNS } = SeismoWidgets.SETTINGS;
  const params = new URLSearchParams(location.search);
  const state = {
    range: rangeSelect.value,
    from: Number(fromInput.dataset.epoch),
    to: Number(toInput.dataset.epoch),
    compare: params.get("compare") === "1",
  };
  compareBox.checked = state.compare;

  function localInput(epoch) {
    const d = new Date(epoch * 1000);
    return new Date(d.getTime() - d.getTimezoneOffset() * 60000).toISOString().slice(0, 16);
  }
  fromInput.value = localInput(state.from);
  toInput.value = localInput(state.to);

  function span() {
    if (state.range !== "custom") {
      const now = Date.now() / 1000;
      return { from: now - RANGES[state.range], to: now };
    }
    return { from: state.from, to: state.to };
  }

  function variables() {
    const out = {};
    for (const input of form.querySelectorAll("[data-variable]")) if (input.value.trim()) out[input.dataset.variable] = input.value.trim();
    return out;
  }

  // Keep the address in step so a reload (or a shared link) shows the same view.
  function syncUrl() {
    const q = new URLSearchParams();
    q.set("range", state.range);
    if (state.range === "custom") { q.set("from", Math.floor(state.from)); q.set("to", Math.ceil(state.to)); }
    if (state.compare) q.set("compare", "1");
    for (const [k, v] of Object.entries(variables())) q.set("var-" + k, v);
    history.replaceState(null, "", "?" + q.toString());
    for (const id of ["export-csv", "export-json"]) {
      const link = document.getElementById(id);
      if (!link) continue;
      const url = new URL(link.href);
      const s = span();
      url.searchParams.set("from", Math.floor(s.from));
      url.searchParams.set("to", Math.ceil(s.to));
      url.searchParams.set("step", Math.max(1, Math.ceil((s.to - s.from) / MAX_POINTS)));
      for (const [k, v] of Object.entries(variables())) url.searchParams.set("label." + k, v);
      link.href = url.toString();
    }
  }

  const widgets = [];
  function zoom(from, to) {
    state.range = "custom"; state.from = from; state.to = to;
    rangeSelect.value = "custom";
    fromInput.value = localInput(from); toInput.value = localInput(to);
    form.querySelector(".custom-range").hidden = false;
    zoomReset.hidden = false;
    reload();
  }

  for (const config of configs) {
    const item = document.querySelector(`[data-widget="${config.id}"]`);
    if (!item) continue;
    const body = item.querySelector(".widget-body");
    const cfg = Object.assign({}, config, { filters: Object.assign({}, config.labels) });
    const widget = SeismoWidgets.create(body, cfg, { zoom });
    widget.config = cfg;
    widgets.push(widget);
    if (window.ResizeObserver) {
      let timer = null;
      new ResizeObserver(() => { clearTimeout(timer); timer = setTimeout(() => widget.resize(), 60); }).observe(body);
    }
  }

  function reload() {
    syncUrl();
    const s = span();
    const vars = variables();
    for (const w of widgets) {
      w.config.filters = Object.assign({}, w.config.labels, vars);
      w.load(s, state.compare);
    }
    subscribeLive();
  }

  // Live mode: append stream samples to the widgets whose metric and labels they match.
  let subscribed = false;
  function onMessage(message) {
    if (!liveBox.checked || state.range === "custom") return;
    const changed = new Set();
    const samples = message.samples || [];
    const ts = SeismoWidgets.toEpoch(message.ts) || Date.now() / 1000;
    for (const sample of samples) {
      for (const w of widgets) {
        if (!w.push || w.config.metric !== sample.metric) continue;
        if (!SeismoWidgets.matches(w.config.filters, sample.labels)) continue;
        const at = (sample.ts !== undefined && SeismoWidgets.toEpoch(sample.ts)) || ts;
        if (w.push(at, sample.value, sample.labels || {})) changed.add(w);
      }
    }
    for (const w of changed) w.refresh();
  }
  function subscribeLive() {
    if (subscribed || !window.SeismoStream || !widgets.length) return;
    SeismoStream.subscribe(METRIC_TOPICS, onMessage);
    subscribed = true;
  }

  rangeSelect.addEventListener("change", () => {
    const custom = rangeSelect.value === "custom";
    form.querySelector(".custom-range").hidden = !custom;
    if (custom) { const s = span(); state.from = s.from; state.to = s.to; }
    state.range = rangeSelect.value;
    zoomReset.hidden = true;
    reload();
  });
  document.getElementById("range-apply").addEventListener("click", () => {
    const from = Date.parse(fromInput.value) / 1000, to = Date.parse(toInput.value) / 1000;
    if (!(from < to)) { fromInput.setCustomValidity("From must be before To"); fromInput.reportValidity(); return; }
    fromInput.setCustomValidity("");
    state.range = "custom"; state.from = from; state.to = to;
    reload();
  });
  zoomReset.addEventListener("click", () => {
    state.range = form.dataset.default; // the dashboard's own range, from the server
    rangeSelect.value = state.range;
    form.querySelector(".custom-range").hidden = true;
    zoomReset.hidden = true;
    reload();
  });
  compareBox.addEventListener("change", () => { state.compare = compareBox.checked; reload(); });
  for (const input of form.querySelectorAll("[data-variable]")) input.addEventListener("change", reload);
  form.addEventListener("submit", (e) => { e.preventDefault(); reload(); });

  // Layout: gridstack on the server's grid (COLUMNS wide); every move/resize is saved at once.
  const grid = document.getElementById("grid");
  if (grid && window.GridStack) {
    const GS = window.GridStack.GridStack || window.GridStack;
    const editable = grid.dataset.editable === "true";
    const stack = GS.init({ column: COLUMNS, cellHeight: 40, margin: 4, float: false, staticGrid: !editable,
                            columnOpts: { columnMax: COLUMNS, breakpoints: [{ w: 700, c: 1 }] } }, grid);
    if (editable) {
      const token = (document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/) || [])[1] ||
        JSON.parse(document.body.getAttribute("hx-headers") || "{}")["X-CSRFToken"];
      stack.on("change", async (event, items) => {
        // A one-column (phone) layout is a view, not a new layout.
        if (stack.getColumn() !== 24) return;
        const layout = items.map((n) => ({ id: Number(n.id), x: n.x, y: n.y, w: n.w, h: n.h }));
        grid.dataset.saving = "true";
        try {
          const response = await fetch(grid.dataset.layoutUrl, {
            method: "POST", credentials: "same-origin",
            headers: { "Content-Type": "application/json", "X-CSRFToken": token, Accept: "application/json" },
            body: JSON.stringify({ layout }),
          });
          grid.dataset.saved = response.ok ? "ok" : "failed";
        } catch (e) {
          grid.dataset.saved = "failed";
        } finally {
          delete grid.dataset.saving;
        }
      });
    }
  }

  reload();
  // Preset ranges slide with time: refetch every minute (live points fill the gaps between).
  setInterval(() => { if (state.range !== "custom" && !document.hidden) reload(); }, 60000);
})();
