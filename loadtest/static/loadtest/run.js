// The live load-test run page: uPlot charts of the run's seconds (stored rows first, then
// `loadtest-progress` frames) and of this instance's own server metrics (the query API first,
// then `series:` frames), all on one time axis. No build step; needs uPlot and SeismoStream.
(function () {
  "use strict";
  const data = JSON.parse(document.getElementById("run-data").textContent);
  const RUN = data.id;
  const TERMINAL = new Set(["finished", "stopped", "failed"]);
  const TOPICS = data.topics; // from the server: {progress, rate, cpu}
  const css = (name) => getComputedStyle(document.documentElement).getPropertyValue(name).trim() || "#888";

  let started = data.started_at; // epoch seconds, null while queued
  let finishedAt = data.finished_at;
  let status = data.status;
  const seconds = new Map(); // second -> {users, requests, failures, p50, p95, p99}
  const server = { rate: new Map(), cpu: new Map() }; // ts -> value
  const charts = {};

  function remember(second, users, requests, failures, p50, p95, p99) {
    seconds.set(second, { users, requests, failures, p50, p95, p99 });
  }
  for (const row of data.seconds) remember(...row);

  function fmt(value, digits) {
    if (value === null || value === undefined || Number.isNaN(value)) return "—";
    const abs = Math.abs(value);
    if (abs >= 1e4) return (value / 1e3).toFixed(1) + "k";
    if (abs >= 100) return value.toFixed(0);
    return value.toFixed(digits === undefined ? 1 : digits);
  }

  function tick(value) {
    return Math.abs(value) >= 1e4 ? (value / 1e3).toFixed(1) + "k" : String(+value.toFixed(2));
  }

  function lastSecond() {
    let last = 0;
    for (const second of seconds.keys()) last = Math.max(last, second);
    return last;
  }

  // Every chart shows the same span: the run's planned length while it runs, what it took after.
  function xRange() {
    if (started === null || started === undefined) {
      const now = Date.now() / 1000;
      return [now - 60, now];
    }
    const ran = lastSecond();
    const end = finishedAt ? Math.max(started + ran, finishedAt) : started + Math.max(data.duration || 0, ran);
    return [started - 2, end + 5];
  }

  const SPECS = {
    rps: { series: [["requests/s", "--accent"]], pick: (r) => [r.requests] },
    latency: { series: [["p50", "--ok"], ["p95", "--warn"], ["p99", "--bad"]], pick: (r) => [r.p50, r.p95, r.p99] },
    errors: { series: [["errors/s", "--bad"]], pick: (r) => [r.failures] },
    users: { series: [["users", "--c5"]], pick: (r) => [r.users], digits: 0 },
    "server-rate": { series: [["requests/s (source=loadtest)", "--c6"]], server: "rate" },
    "server-cpu": { series: [["CPU %", "--c5"]], server: "cpu" },
  };

  function dataFor(spec) {
    if (spec.server) {
      const entries = Array.from(server[spec.server].entries()).sort((a, b) => a[0] - b[0]);
      return [entries.map((e) => e[0]), entries.map((e) => e[1])];
    }
    if (started === null || started === undefined) return [[]].concat(spec.series.map(() => []));
    const keys = Array.from(seconds.keys()).sort((a, b) => a - b);
    const columns = spec.series.map((_, i) => keys.map((k) => {
      const value = spec.pick(seconds.get(k))[i];
      return value === undefined ? null : value;
    }));
    return [keys.map((k) => started + k)].concat(columns); // each second plotted at its end
  }

  function build(name) {
    const figure = document.querySelector(`[data-chart="${name}"]`);
    if (!figure) return;
    const body = figure.querySelector(".chart-body");
    const spec = SPECS[name];
    const opts = {
      width: Math.max(200, body.clientWidth),
      height: Math.max(120, body.clientHeight - 30),
      scales: {
        x: { time: true, range: () => xRange() },
        y: { range: (u, min, max) => [0, max > 0 ? max * 1.15 : 1] }, // every figure here counts from zero
      },
      series: [{}].concat(spec.series.map(([label, color]) => ({
        label, stroke: css(color), width: 1.5, points: { show: false }, value: (u, v) => fmt(v, spec.digits),
      }))),
      axes: [
        { stroke: css("--muted"), grid: { stroke: css("--border") } },
        { stroke: css("--muted"), grid: { stroke: css("--border") }, values: (u, vals) => vals.map(tick) },
      ],
      cursor: { sync: { key: `run-${RUN}` } },
    };
    charts[name] = { figure, spec, plot: new uPlot(opts, dataFor(spec), body) };
    mark(charts[name], dataFor(spec));
  }

  // The number of points drawn and the latest value, for people (and the browser test).
  function mark(chart, columns) {
    chart.figure.dataset.points = String(columns[0].length);
    const last = chart.figure.querySelector(".chart-last");
    if (!last) return;
    const i = columns[0].length - 1;
    last.textContent = i < 0 ? "no data yet" : chart.spec.series.map((s, k) => `${s[0]} ${fmt(columns[k + 1][i], chart.spec.digits)}`).join(" · ");
  }

  function redraw(names) {
    for (const name of names || Object.keys(charts)) {
      const chart = charts[name];
      if (!chart) continue;
      const columns = dataFor(chart.spec);
      chart.plot.setData(columns);
      mark(chart, columns);
    }
  }
  const RUN_CHARTS = ["rps", "latency", "errors", "users"];

  async function getJSON(url) {
    const response = await fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" });
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    return response.json();
  }

  // The stored seconds: after a gap in the frames, a resync, or the end of the run.
  let reloading = null;
  function reloadSeconds() {
    if (reloading) return reloading;
    reloading = getJSON(`/api/v1/loadtest/runs/${RUN}/`).then((run) => {
      if (run.started_at) started = Date.parse(run.started_at) / 1000;
      if (run.finished_at) finishedAt = Date.parse(run.finished_at) / 1000;
      for (const s of run.seconds || []) remember(s.second, s.users, s.requests, s.failures, s.p50_ms, s.p95_ms, s.p99_ms);
      redraw();
    }).catch((err) => console.warn("run reload failed:", err.message)).finally(() => { reloading = null; });
    return reloading;
  }

  async function loadServer() {
    if (started === null || started === undefined) return;
    const from = Math.floor(started - 10);
    const to = Math.ceil((finishedAt || Date.now() / 1000) + 15);
    const queries = {
      rate: { metric: "http_request_rate", "label.source": "loadtest" },
      cpu: { metric: "system_cpu_percent" },
    };
    await Promise.all(Object.entries(queries).map(async ([name, query]) => {
      const q = new URLSearchParams({ ...query, agg: "avg", step: "1", from: String(from), to: String(to) });
      try {
        const body = await getJSON(`/api/v1/query/?${q}`);
        for (const series of body.series || []) for (const [ts, value] of series.points || []) server[name].set(ts, value);
      } catch (err) { /* no such metric yet: the chart stays empty until points arrive */ }
    }));
    redraw(["server-rate", "server-cpu"]);
  }

  function onServerPoint(name) {
    return (message) => {
      if (started === null || started === undefined) return;
      const [low, high] = [started - 10, finishedAt ? finishedAt + 15 : Infinity];
      for (const [ts, value] of message.points || []) {
        const t = typeof ts === "number" ? ts : Date.parse(ts) / 1000;
        if (t >= low && t <= high) server[name].set(t, value);
      }
      redraw([`server-${name}`]);
    };
  }

  function showFigures(run) {
    const set = (field, text) => {
      const el = document.querySelector(`#run-summary [data-field="${field}"]`);
      if (el) el.textContent = text;
    };
    const statusEl = document.querySelector('#run-summary [data-field="status"]');
    if (statusEl) { statusEl.textContent = run.status; statusEl.className = `status status-${run.status}`; }
    set("requests", String(run.requests));
    set("failures", String(run.failures));
    set("rps", fmt(run.rps));
    set("p50_ms", fmt(run.p50_ms));
    set("p95_ms", fmt(run.p95_ms));
    set("p99_ms", fmt(run.p99_ms));
    set("users", String(run.users));
    set("stop_reason", run.stop_reason || "");
  }

  function refreshSummary() {
    if (window.htmx) window.htmx.ajax("GET", location.pathname, { target: "#run-summary", swap: "outerHTML" });
  }

  function onProgress(message) {
    const run = message.run;
    if (!run || run.id !== RUN) return;
    if (run.started_at && started !== run.started_at) {
      const first = started === null || started === undefined;
      started = run.started_at;
      if (first) loadServer(); // the page opened while the run was queued
    }
    if (TERMINAL.has(run.status)) {
      if (!TERMINAL.has(status)) {
        status = run.status;
        finishedAt = Date.now() / 1000;
        refreshSummary(); // the stored totals and final status
        reloadSeconds().then(loadServer); // the last, partial second, and the whole server window
        setTimeout(() => stopServerFeed(), 20000); // the last request window is collected a few seconds late
      }
      return;
    }
    status = run.status;
    if (run.window && run.elapsed && !seconds.has(run.elapsed)) {
      const gap = run.elapsed > lastSecond() + 1;
      remember(run.elapsed, run.users, run.window.requests, run.window.failures, run.window.p50_ms, run.window.p95_ms, run.window.p99_ms);
      redraw(RUN_CHARTS);
      if (gap) reloadSeconds(); // frames we did not see (the page opened mid-second, or a reconnect)
    }
    showFigures(run);
  }

  let serverFeed = null;
  function startServerFeed() {
    if (serverFeed || !window.SeismoStream) return;
    serverFeed = { rate: onServerPoint("rate"), cpu: onServerPoint("cpu") };
    for (const name of Object.keys(serverFeed)) SeismoStream.subscribe([TOPICS[name]], serverFeed[name]);
  }
  function stopServerFeed() {
    if (!serverFeed || !window.SeismoStream) return;
    for (const name of Object.keys(serverFeed)) SeismoStream.unsubscribe([TOPICS[name]], serverFeed[name]);
    serverFeed = null;
  }

  for (const name of Object.keys(SPECS)) build(name);
  window.addEventListener("resize", () => {
    for (const chart of Object.values(charts)) {
      const body = chart.figure.querySelector(".chart-body");
      chart.plot.setSize({ width: Math.max(200, body.clientWidth), height: Math.max(120, body.clientHeight - 30) });
    }
  });
  document.addEventListener("seismo:stream-resync", () => { reloadSeconds(); loadServer(); });
  loadServer();
  if (!TERMINAL.has(status)) startServerFeed();
  if (window.SeismoStream && !TERMINAL.has(status)) SeismoStream.subscribe([TOPICS.progress], onProgress);
  window.SeismoLoadRun = { charts, seconds, server }; // for debugging in the console
})();
