// Explore: queries (metric + label filters + aggregation) drawn on one uPlot chart and a table,
// with range/zoom/step, live points from the stream, export links and "add to dashboard".
// Everything it needs (aggregations, ranges, the point cap, topics) comes from #explore-initial.
(function () {
  "use strict";
  const init = JSON.parse(document.getElementById("explore-initial").textContent);
  const F = window.SeismoFormat;
  const PALETTE = ["--accent", "--ok", "--warn", "--bad", "--c5", "--c6"];
  const LETTERS = "ABCDEFGHIJ";
  const POINT_AGGS = new Set(init.point_aggregations); // a live sample is a point of these
  const AGG = init.defaults.aggregation, RANGE = init.defaults.range; // the server's defaults
  const RANGES = Object.fromEntries(init.ranges.map(([value, , seconds]) => [value, seconds]));
  const css = (name) => getComputedStyle(document.documentElement).getPropertyValue(name).trim() || "#888";
  const $ = (id) => document.getElementById(id);

  const meta = Object.assign({}, init.metrics); // metric name -> {unit, kind, help, topic}
  const labelCache = new Map(); // metric name -> Promise({key: [values]})
  const state = {
    queries: init.queries.length ? init.queries.map((q) => ({ metric: q.metric, labels: q.labels || {}, agg: q.agg || AGG }))
      : [{ metric: "", labels: {}, agg: AGG }],
    range: init.range in RANGES || init.range === "custom" ? init.range : RANGE,
    from: Number(init.from) || null,
    to: Number(init.to) || null,
    step: init.step || null,
    live: init.live,
    presetBeforeZoom: null,
  };
  if (state.range === "custom" && !(state.from < state.to)) state.range = RANGE;
  let results = []; // [{query index, labels, points}] of the last run
  let plot = null;
  let runId = 0;

  async function getJSON(url) {
    const response = await fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" });
    if (!response.ok) {
      let text = `HTTP ${response.status}`;
      try { text = (await response.json()).error.message || text; } catch (e) { /* not JSON */ }
      throw new Error(text);
    }
    return response.json();
  }

  function unitOf(metric) { return F.unitOf(metric, (meta[metric] || {}).unit); }
  function colour(i) { return css(PALETTE[i % PALETTE.length]); }

  // Range ----------------------------------------------------------------------------------
  function span() {
    if (state.range === "custom") return { from: state.from, to: state.to };
    const now = Date.now() / 1000;
    return { from: now - RANGES[state.range], to: now };
  }
  function localInput(epoch) {
    const d = new Date(epoch * 1000);
    return new Date(d.getTime() - d.getTimezoneOffset() * 60000).toISOString().slice(0, 16);
  }
  function stepFor(s) { return state.step || Math.max(1, Math.ceil((s.to - s.from) / init.max_points)); }

  function queryParams(q, s) {
    const p = new URLSearchParams({ metric: q.metric });
    for (const [k, v] of Object.entries(q.labels)) p.set("label." + k, v);
    // Whole seconds and exactly the range's length: "last 24 h" must stay within the raw tier
    // (a second more and the server answers from rollups).
    const to = Math.ceil(s.to);
    p.set("from", to - Math.round(s.to - s.from));
    p.set("to", to);
    return p;
  }

  // The address holds the view: m0/a0/l0.k per query, range or from/to, step, live.
  function syncUrl() {
    const p = new URLSearchParams();
    state.queries.filter((q) => q.metric).forEach((q, i) => {
      p.set("m" + i, q.metric);
      if (q.agg !== AGG) p.set("a" + i, q.agg);
      for (const [k, v] of Object.entries(q.labels)) p.set(`l${i}.${k}`, v);
    });
    p.set("range", state.range);
    if (state.range === "custom") { p.set("from", Math.floor(state.from)); p.set("to", Math.ceil(state.to)); }
    if (state.step) p.set("step", state.step);
    if (!state.live) p.set("live", "0");
    history.replaceState(null, "", "?" + p.toString());
    const next = $("add-next");
    if (next) next.value = location.pathname + location.search;
  }

  // Query rows -------------------------------------------------------------------------------
  const container = $("queries");
  const template = $("query-template");

  function renderRows() {
    container.replaceChildren();
    state.queries.forEach((q, i) => container.appendChild(row(q, i)));
    $("add-query").disabled = state.queries.length >= init.max_queries;
    renderAddChoices();
  }

  function row(q, i) {
    const node = template.content.firstElementChild.cloneNode(true);
    node.dataset.index = i;
    node.querySelector(".letter").textContent = LETTERS[i];
    node.querySelector(".swatch").style.background = colour(i);
    const input = node.querySelector(".metric-input");
    input.id = `metric-${i}`;
    node.querySelector(".metric-label").htmlFor = input.id;
    node.querySelector(".metric-label").textContent = `Metric of query ${LETTERS[i]}`;
    input.value = q.metric;
    const list = node.querySelector(".suggestions");
    list.id = `suggestions-${i}`;
    input.setAttribute("aria-controls", list.id);
    const agg = node.querySelector(".agg");
    agg.id = `agg-${i}`;
    for (const [value, label] of init.aggregations) agg.add(new Option(label, value, false, value === q.agg));
    agg.addEventListener("change", () => { q.agg = agg.value; run(); });
    node.querySelector(".remove").addEventListener("click", () => {
      state.queries.splice(i, 1);
      if (!state.queries.length) state.queries.push({ metric: "", labels: {}, agg: AGG });
      renderRows(); run();
    });
    picker(node, q, input, list);
    renderInfo(node, q);
    renderFilters(node, q);
    return node;
  }

  function renderInfo(node, q) {
    const info = node.querySelector(".metric-info");
    const m = meta[q.metric];
    info.textContent = !q.metric ? "" : m
      ? [m.kind, unitOf(q.metric) || "no unit", m.help].filter(Boolean).join(" · ")
      : "not in the catalogue yet (no samples)";
  }

  // Search as you type: the catalogue answers with names, help, unit and kind.
  function picker(node, q, input, list) {
    let timer = null, items = [], active = -1, listFor = null, asked = 0;
    const close = () => { list.hidden = true; input.setAttribute("aria-expanded", "false"); active = -1; };
    const highlight = () => {
      [...list.children].forEach((li, j) => li.setAttribute("aria-selected", String(j === active)));
      if (active >= 0) input.setAttribute("aria-activedescendant", list.children[active].id);
      else input.removeAttribute("aria-activedescendant");
    };
    const choose = (m) => {
      meta[m.name] = m;
      if (q.metric !== m.name) q.labels = {};
      q.metric = m.name; input.value = m.name;
      close(); renderInfo(node, q); renderFilters(node, q); renderAddChoices(); run();
    };
    async function suggest() {
      const text = input.value, ticket = ++asked;
      const data = await getJSON(`${init.urls.metrics}?q=${encodeURIComponent(text)}`);
      if (ticket !== asked) return; // the user typed on: a newer answer is coming
      items = data.metrics; listFor = text;
      list.replaceChildren();
      items.forEach((m, j) => {
        const li = document.createElement("li");
        li.id = `${list.id}-${j}`; li.setAttribute("role", "option");
        const name = document.createElement("span"); name.className = "name"; name.textContent = m.name;
        const info = document.createElement("span"); info.className = "meta";
        info.textContent = [m.kind, F.unitOf(m.name, m.unit) || "no unit", `${m.series} series`, m.help].filter(Boolean).join(" · ");
        li.append(name, info);
        li.addEventListener("mousedown", (e) => { e.preventDefault(); choose(m); });
        list.appendChild(li);
      });
      if (!items.length) {
        const li = document.createElement("li"); li.className = "muted";
        li.textContent = "No metric matches. Ingest one with POST /api/v1/ingest/.";
        list.appendChild(li);
      }
      list.hidden = false; input.setAttribute("aria-expanded", "true"); active = items.length ? 0 : -1; highlight();
    }
    input.addEventListener("input", () => { clearTimeout(timer); timer = setTimeout(() => suggest().catch(showError), 120); });
    input.addEventListener("focus", () => { if (!input.value) suggest().catch(showError); });
    input.addEventListener("blur", () => setTimeout(close, 100));
    input.addEventListener("keydown", (e) => {
      if (e.key === "ArrowDown" && items.length) { e.preventDefault(); if (list.hidden) { suggest(); return; } active = (active + 1) % items.length; highlight(); }
      else if (e.key === "ArrowUp" && items.length) { e.preventDefault(); active = (active - 1 + items.length) % items.length; highlight(); }
      else if (e.key === "Enter") {
        e.preventDefault();
        clearTimeout(timer);
        const typed = input.value.trim();
        if (listFor !== input.value) {
          // Enter before the suggestions caught up with the typing: ask now, take the best match.
          suggest().then(() => { if (items.length) choose(items[0]); else if (typed) choose({ name: typed }); }).catch(showError);
        } else if (!list.hidden && active >= 0) choose(items[active]);
        else if (typed) choose(meta[typed] || { name: typed });
      } else if (e.key === "Escape") close();
    });
  }

  function labelsOf(metric) {
    if (!labelCache.has(metric)) {
      labelCache.set(metric, getJSON(`${init.urls.labels}?metric=${encodeURIComponent(metric)}`).then((d) => d.labels)
        .catch(() => { labelCache.delete(metric); return {}; }));
    }
    return labelCache.get(metric);
  }

  // Label filters: pick a name, then one of the values that exist; each shows as a chip.
  function renderFilters(node, q) {
    const chips = node.querySelector(".filter-chips");
    const keySel = node.querySelector(".label-key");
    const valueSel = node.querySelector(".label-value");
    chips.replaceChildren();
    for (const [k, v] of Object.entries(q.labels)) {
      const li = document.createElement("li"); li.className = "chip";
      const key = document.createElement("span"); key.className = "k"; key.textContent = k;
      const val = document.createElement("span"); val.className = "v"; val.textContent = v;
      const x = document.createElement("button"); x.type = "button"; x.textContent = "×";
      x.setAttribute("aria-label", `Remove filter ${k}=${v}`);
      x.addEventListener("click", () => { delete q.labels[k]; renderFilters(node, q); run(); });
      li.append(key, "=", val, x);
      chips.appendChild(li);
    }
    keySel.length = 1; valueSel.hidden = true; keySel.disabled = !q.metric;
    if (!q.metric) return;
    labelsOf(q.metric).then((labels) => {
      keySel.length = 1;
      for (const key of Object.keys(labels)) if (!(key in q.labels)) keySel.add(new Option(key, key));
      keySel.disabled = keySel.length === 1;
      keySel.onchange = () => {
        const key = keySel.value;
        valueSel.length = 0;
        if (!key) { valueSel.hidden = true; return; }
        valueSel.add(new Option(`${key} = …`, ""));
        for (const value of labels[key] || []) valueSel.add(new Option(value, value));
        valueSel.hidden = false; valueSel.focus();
      };
      valueSel.onchange = () => {
        if (!valueSel.value) return;
        q.labels[keySel.value] = valueSel.value;
        renderFilters(node, q); run();
        node.querySelector(".label-key").focus();
      };
    });
  }

  // Running the queries -------------------------------------------------------------------
  function showError(err) {
    const chart = $("chart");
    if (plot) { plot.destroy(); plot = null; }
    chart.replaceChildren();
    const p = document.createElement("p"); p.className = "widget-message form-error"; p.setAttribute("role", "alert");
    p.textContent = `The query failed: ${err.message}`;
    chart.appendChild(p);
    chart.dataset.loaded = "error";
  }

  async function run() {
    syncUrl();
    renderExports();
    subscribeLive();
    const id = ++runId;
    const s = span();
    const active = state.queries.map((q, i) => ({ q, i })).filter(({ q }) => q.metric);
    const chart = $("chart");
    if (!active.length) {
      results = [];
      if (plot) { plot.destroy(); plot = null; }
      chart.replaceChildren($("chart-empty") || emptyNote());
      chart.dataset.loaded = "empty";
      renderTable();
      return;
    }
    chart.setAttribute("aria-busy", "true");
    try {
      const answers = await Promise.all(active.map(({ q }) => {
        const p = queryParams(q, s);
        p.set("step", stepFor(s)); p.set("agg", q.agg);
        return getJSON(`${init.urls.query}?${p}`);
      }));
      if (id !== runId) return; // a newer run started meanwhile
      results = [];
      answers.forEach((data, j) => {
        for (const series of data.series || []) {
          results.push({ index: active[j].i, labels: series.labels || {}, points: (series.points || []).map((p) => [toEpoch(p[0]), p[1]]) });
        }
      });
      draw(); renderTable();
    } catch (err) {
      if (id === runId) showError(err);
    } finally {
      chart.removeAttribute("aria-busy");
    }
  }

  function emptyNote() {
    const p = document.createElement("p"); p.id = "chart-empty"; p.className = "widget-message muted empty-state";
    p.textContent = "Pick a metric above and its series appear here.";
    return p;
  }

  function toEpoch(ts) {
    if (typeof ts === "number") return ts > 1e12 ? ts / 1000 : ts;
    const parsed = Date.parse(ts);
    return Number.isNaN(parsed) ? null : parsed / 1000;
  }

  function labelText(labels) {
    const parts = Object.entries(labels).map(([k, v]) => `${k}=${v}`);
    return parts.length ? parts.join(", ") : "(no labels)";
  }

  // Wide enough for the longest tick label ("4.776 MiB").
  function axisSize(u, values) {
    const longest = Math.max(3, ...(values || []).map((v) => String(v).length));
    return Math.ceil(longest * 7.5) + 14;
  }

  // One chart: a y scale per unit (the first on the left, a second on the right).
  function draw() {
    const chart = $("chart");
    if (plot) { plot.destroy(); plot = null; }
    const withPoints = results.filter((r) => r.points.length);
    if (!withPoints.length) {
      chart.replaceChildren();
      const p = document.createElement("p"); p.className = "widget-message muted empty-state";
      p.textContent = "No data in this range. Widen the range, or remove a label filter.";
      chart.appendChild(p);
      chart.dataset.loaded = "true"; chart.dataset.series = "0";
      return;
    }
    chart.replaceChildren();
    const units = [];
    for (const r of withPoints) { const u = unitOf(state.queries[r.index].metric); if (!units.includes(u)) units.push(u); }
    const scaleOf = (u) => (units.indexOf(u) === 0 ? "y" : "y2");
    const data = uPlot.join(withPoints.map((r) => [r.points.map((p) => p[0]), r.points.map((p) => p[1])]));
    const perQuery = new Map();
    const series = [{ value: (u, v) => (v == null ? "—" : new Date(v * 1000).toLocaleString()) }].concat(withPoints.map((r) => {
      const q = state.queries[r.index];
      const n = perQuery.get(r.index) || 0; perQuery.set(r.index, n + 1);
      const unit = unitOf(q.metric);
      return {
        label: `${LETTERS[r.index]} ${q.metric}{${labelText(r.labels)}}`,
        stroke: colour(r.index), width: 1.5, dash: n ? [[], [6, 3], [2, 3], [8, 3, 2, 3]][n % 4] : undefined,
        spanGaps: true, scale: scaleOf(unit), value: (u, v) => F.value(v, unit),
      };
    }));
    const axes = [
      { stroke: css("--muted"), grid: { stroke: css("--border") } },
      { scale: "y", stroke: css("--muted"), grid: { stroke: css("--border") }, values: F.axis(units[0]), size: axisSize },
    ];
    if (units.length > 1) axes.push({ scale: "y2", side: 1, stroke: css("--muted"), grid: { show: false }, values: F.axis(units[1]), size: axisSize });
    const s = span();
    const opts = {
      width: Math.max(200, chart.clientWidth - 8), height: Math.max(120, chart.clientHeight - 60),
      series, axes, legend: { show: withPoints.length <= 12, live: true },
      scales: { x: { time: true, range: (u, dmin, dmax) => {
        const length = s.to - s.from, high = Math.max(s.to, dmax || 0);
        return [high - length, high];
      } } },
      cursor: { drag: { x: true, y: false, setScale: false } },
      hooks: {
        setSelect: [(u) => {
          if (u.select.width < 4) return;
          const from = u.posToVal(u.select.left, "x"), to = u.posToVal(u.select.left + u.select.width, "x");
          u.setSelect({ left: 0, top: 0, width: 0, height: 0 }, false);
          zoom(from, to);
        }],
      },
    };
    plot = new uPlot(opts, data, chart);
    chart.dataset.loaded = "true";
    chart.dataset.series = String(withPoints.length);
  }

  function stats(points) {
    const values = points.map((p) => p[1]).filter((v) => v !== null && v !== undefined);
    if (!values.length) return { last: null, min: null, max: null, avg: null, n: 0 };
    return { last: values[values.length - 1], min: Math.min(...values), max: Math.max(...values),
             avg: values.reduce((a, b) => a + b, 0) / values.length, n: values.length };
  }

  function renderTable() {
    const body = $("series-table").tBodies[0];
    body.replaceChildren();
    if (!results.length) {
      const tr = body.insertRow(); tr.className = "empty";
      const td = tr.insertCell(); td.colSpan = 7; td.className = "muted";
      td.textContent = state.queries.some((q) => q.metric) ? "No series match these filters." : "No series yet.";
      return;
    }
    for (const r of results) {
      const q = state.queries[r.index], unit = unitOf(q.metric), st = stats(r.points);
      const tr = body.insertRow();
      const head = tr.insertCell();
      const sw = document.createElement("span"); sw.className = "swatch"; sw.style.background = colour(r.index);
      sw.setAttribute("aria-hidden", "true");
      head.append(sw, `${LETTERS[r.index]} · ${q.metric}`);
      const labelsCell = tr.insertCell();
      const ul = document.createElement("ul"); ul.className = "chips";
      for (const [k, v] of Object.entries(r.labels)) {
        const li = document.createElement("li"); li.className = "chip";
        const key = document.createElement("span"); key.className = "k"; key.textContent = k;
        const val = document.createElement("span"); val.className = "v"; val.textContent = v;
        li.append(key, "=", val); ul.appendChild(li);
      }
      if (!ul.children.length) { labelsCell.className = "muted"; labelsCell.textContent = "(no labels)"; } else labelsCell.appendChild(ul);
      for (const key of ["last", "min", "avg", "max"]) {
        const td = tr.insertCell(); td.className = "num"; td.textContent = F.value(st[key], unit);
        if (st[key] !== null) td.dataset.value = String(st[key]);
      }
      const n = tr.insertCell(); n.className = "num"; n.textContent = F.value(st.n, "");
    }
  }

  function renderExports() {
    const list = $("exports");
    list.replaceChildren();
    const s = span();
    const active = state.queries.map((q, i) => ({ q, i })).filter(({ q }) => q.metric);
    if (!active.length) {
      const li = document.createElement("li"); li.className = "muted"; li.textContent = "Pick a metric to export its samples as CSV or JSON.";
      list.appendChild(li); return;
    }
    for (const { q, i } of active) {
      const li = document.createElement("li");
      li.append(`${LETTERS[i]} · ${q.metric} `);
      for (const format of ["csv", "json"]) {
        const p = queryParams(q, s); p.set("format", format);
        const a = document.createElement("a"); a.href = `${init.urls.export}?${p}`; a.textContent = format.toUpperCase();
        a.id = `export-${format}-${i}`; a.setAttribute("download", "");
        li.append(a, " ");
      }
      list.appendChild(li);
    }
  }

  // Add to dashboard: the chosen query fills the widget form's hidden fields.
  function renderAddChoices() {
    const select = $("add-query-index");
    if (!select) return;
    const previous = select.value;
    select.length = 0;
    state.queries.forEach((q, i) => { if (q.metric) select.add(new Option(`${LETTERS[i]} · ${q.metric}`, String(i))); });
    if ([...select.options].some((o) => o.value === previous)) select.value = previous;
    select.disabled = !select.length;
    const button = $("add-form").querySelector("button[type=submit]");
    button.disabled = !select.length;
  }
  const addForm = $("add-form");
  if (addForm) {
    addForm.addEventListener("submit", () => {
      const q = state.queries[Number($("add-query-index").value)];
      if (!q) return;
      $("add-metric").value = q.metric;
      $("add-labels").value = Object.entries(q.labels).map(([k, v]) => `${k}=${v}`).join(", ");
      $("add-aggregation").value = q.agg;
      const title = addForm.querySelector("[name=title]");
      if (!title.value) title.value = q.metric + (Object.keys(q.labels).length ? ` {${labelText(q.labels)}}` : "");
      $("add-next").value = location.pathname + location.search;
    });
  }

  // Zoom, range, step, live ---------------------------------------------------------------
  const rangeSelect = $("range"), fromInput = $("range-from"), toInput = $("range-to");
  function showCustom(on) { document.querySelector(".custom-range").hidden = !on; }
  function zoom(from, to) {
    if (state.range !== "custom") state.presetBeforeZoom = state.range;
    state.range = "custom"; state.from = from; state.to = to;
    rangeSelect.value = "custom"; fromInput.value = localInput(from); toInput.value = localInput(to);
    showCustom(true); $("zoom-reset").hidden = false;
    run();
  }
  rangeSelect.addEventListener("change", () => {
    if (rangeSelect.value === "custom") {
      const s = span(); state.from = s.from; state.to = s.to;
      fromInput.value = localInput(s.from); toInput.value = localInput(s.to);
    }
    state.range = rangeSelect.value; showCustom(state.range === "custom"); $("zoom-reset").hidden = true;
    run();
  });
  $("range-apply").addEventListener("click", () => {
    const from = Date.parse(fromInput.value) / 1000, to = Date.parse(toInput.value) / 1000;
    if (!(from < to)) { fromInput.setCustomValidity("From must be before To"); fromInput.reportValidity(); return; }
    fromInput.setCustomValidity("");
    state.range = "custom"; state.from = from; state.to = to; run();
  });
  $("zoom-reset").addEventListener("click", () => {
    state.range = state.presetBeforeZoom || RANGE; rangeSelect.value = state.range;
    showCustom(false); $("zoom-reset").hidden = true; run();
  });
  const stepSelect = $("step");
  if (state.step && ![...stepSelect.options].some((o) => o.value === String(state.step))) stepSelect.add(new Option(`${state.step} s`, String(state.step)));
  stepSelect.value = state.step ? String(state.step) : "";
  stepSelect.addEventListener("change", () => { state.step = Number(stepSelect.value) || null; run(); });
  $("live").addEventListener("change", (e) => { state.live = e.target.checked; syncUrl(); });
  $("explore-form").addEventListener("submit", (e) => { e.preventDefault(); run(); });
  $("add-query").addEventListener("click", () => {
    if (state.queries.length >= init.max_queries) return;
    state.queries.push({ metric: "", labels: {}, agg: AGG });
    renderRows();
    $(`metric-${state.queries.length - 1}`).focus();
  });
  $("run").addEventListener("click", run);
  $("share").addEventListener("click", async () => {
    syncUrl();
    const status = $("share-status");
    try { await navigator.clipboard.writeText(location.href); status.textContent = "Link copied."; }
    catch (e) { status.textContent = "Copy the address bar: it reopens this view."; }
  });
  if (state.range === "custom") { fromInput.value = localInput(state.from); toInput.value = localInput(state.to); }

  // Live: stream samples of the queried metrics append to their lines (point-like aggregations).
  const subscribed = new Set();
  function onMessage(message) {
    if (!state.live || state.range === "custom" || !plot) return;
    const ts = toEpoch(message.ts) || Date.now() / 1000;
    let changed = false;
    for (const sample of message.samples || []) {
      state.queries.forEach((q, i) => {
        if (q.metric !== sample.metric || !POINT_AGGS.has(q.agg)) return;
        const labels = sample.labels || {};
        for (const [k, v] of Object.entries(q.labels)) if (labels[k] !== v) return;
        const key = JSON.stringify(Object.entries(labels).sort());
        const target = results.find((r) => r.index === i && JSON.stringify(Object.entries(r.labels).sort()) === key);
        if (!target) return;
        const at = (sample.ts !== undefined && toEpoch(sample.ts)) || ts;
        const last = target.points[target.points.length - 1];
        if (last && at <= last[0]) return;
        target.points.push([at, sample.value]);
        while (target.points.length > init.max_points) target.points.shift();
        changed = true;
      });
    }
    if (changed) { draw(); renderTable(); }
  }
  function subscribeLive() {
    if (!window.SeismoStream) return;
    const topics = state.queries.filter((q) => q.metric && meta[q.metric]).map((q) => meta[q.metric].topic);
    const fresh = [...new Set(topics)].filter((t) => !subscribed.has(t));
    if (!fresh.length) return;
    fresh.forEach((t) => subscribed.add(t));
    SeismoStream.subscribe(fresh, onMessage);
  }

  document.addEventListener("seismo:theme", () => { if (results.length) draw(); renderRows(); });
  if (window.ResizeObserver) {
    let timer = null;
    new ResizeObserver(() => { clearTimeout(timer); timer = setTimeout(() => { if (plot) plot.setSize({ width: Math.max(200, $("chart").clientWidth - 8), height: Math.max(120, $("chart").clientHeight - 60) }); }, 80); }).observe($("chart"));
  }

  renderRows();
  run();
  // Preset ranges slide with time: refetch every minute (live points fill the gaps between).
  setInterval(() => { if (state.range !== "custom" && !document.hidden && state.queries.some((q) => q.metric)) run(); }, 60000);
})();
