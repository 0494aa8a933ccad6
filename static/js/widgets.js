// Dashboard widgets: each kind draws itself into a body element from /api/v1/query data and
// accepts live points from the stream. Used by the dashboard page and the history page.
(function () {
  "use strict";
  // The server's limits (dashboards.services.chart_settings), on pages that draw charts.
  const settingsEl = document.getElementById("chart-settings");
  const SETTINGS = settingsEl ? JSON.parse(settingsEl.textContent) : {};
  const MAX_POINTS = SETTINGS.max_points; // a chart never draws more than this many points per series
  const css = (name) => getComputedStyle(document.documentElement).getPropertyValue(name).trim() || "#888";
  const PALETTE = ["--accent", "--ok", "--warn", "--bad", "--c5", "--c6"];

  // Numbers read the same on every page: static/js/format.js, by the widget's unit (or the one
  // its metric's name implies).
  const fmt = (value, unit) => SeismoFormat.value(value, unit);
  const unitFor = (config) => SeismoFormat.unitOf(config.metric, (config.options || {}).unit);

  function toEpoch(ts) {
    if (typeof ts === "number") return ts > 1e12 ? ts / 1000 : ts;
    const parsed = Date.parse(ts);
    return Number.isNaN(parsed) ? null : parsed / 1000;
  }

  // Keep at most MAX_POINTS by averaging neighbours (the server already steps; this is the guard).
  function thin(points) {
    if (points.length <= MAX_POINTS) return points;
    const stride = Math.ceil(points.length / MAX_POINTS);
    const out = [];
    for (let i = 0; i < points.length; i += stride) {
      const chunk = points.slice(i, i + stride).filter((p) => p[1] !== null);
      if (!chunk.length) continue;
      out.push([chunk[chunk.length - 1][0], chunk.reduce((s, p) => s + p[1], 0) / chunk.length]);
    }
    return out;
  }

  function levelFor(value, thresholds) {
    let level = "";
    for (const t of thresholds || []) if (value !== null && value >= t.value) level = t.level;
    return level;
  }

  function labelText(labels) {
    const parts = Object.entries(labels || {}).map(([k, v]) => `${k}=${v}`);
    return parts.length ? parts.join(", ") : "all";
  }

  function matches(want, labels) {
    for (const [k, v] of Object.entries(want)) if ((labels || {})[k] !== v) return false;
    return true;
  }

  async function getJSON(url) {
    const response = await fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" });
    if (!response.ok) {
      let message = `HTTP ${response.status}`;
      try { message = (await response.json()).error.message || message; } catch (e) { /* not JSON */ }
      throw new Error(message);
    }
    return response.json();
  }

  function queryUrl(config, span, shift) {
    const q = new URLSearchParams({ metric: config.metric, agg: config.aggregation });
    for (const [k, v] of Object.entries(config.filters)) q.set("label." + k, v);
    // Whole seconds, and exactly the range's length: "last 24 h" stays within the raw tier.
    const to = Math.ceil(span.to - (shift || 0));
    q.set("from", to - Math.round(span.to - span.from));
    q.set("to", to);
    q.set("step", Math.max(1, Math.ceil((span.to - span.from) / MAX_POINTS)));
    return "/api/v1/query/?" + q.toString();
  }

  function message(body, text, cls) {
    body.replaceChildren();
    const p = document.createElement("p");
    p.className = "widget-message " + (cls || "muted");
    p.textContent = text;
    body.appendChild(p);
  }

  // Time series (uPlot) -------------------------------------------------------------------
  // uPlot paints its lines, axes and grid with the colours read when it drew: on a theme change
  // (the toggle, or the system's setting while the toggle says "system") every chart still on
  // the page draws again in the new ones. Stats, gauges and tables follow the CSS by themselves.
  const charts = new Set();
  document.addEventListener("seismo:theme", () => {
    for (const chart of charts) {
      if (!chart.body.isConnected) charts.delete(chart);
      else if (chart.plot) chart.draw();
    }
  });

  class TimeSeries {
    constructor(body, config, hooks) {
      this.body = body; this.config = config; this.hooks = hooks;
      this.series = []; this.previous = []; this.plot = null;
    }
    async load(span, compare) {
      this.span = span;
      const shift = span.to - span.from;
      // Only the line chart draws the previous period; a stat or gauge shows "now".
      const wantPrevious = compare && this.constructor === TimeSeries;
      const [data, prev] = await Promise.all([
        getJSON(queryUrl(this.config, span)),
        wantPrevious ? getJSON(queryUrl(this.config, span, shift)) : Promise.resolve({ series: [] }),
      ]);
      const parse = (series, offset) => (series || [])
        .map((s) => ({ labels: s.labels || {}, points: thin((s.points || []).map((p) => [toEpoch(p[0]) + offset, p[1]])) }));
      this.series = parse(data.series, 0);
      this.previous = parse(prev.series, shift).filter((s) => s.points.length);
      this.draw();
    }
    joined() {
      const all = this.series.concat(this.previous);
      return uPlot.join(all.map((s) => [s.points.map((p) => p[0]), s.points.map((p) => p[1])]));
    }
    draw() {
      if (this.plot) { this.plot.destroy(); this.plot = null; }
      const all = this.series.concat(this.previous);
      if (!all.some((s) => s.points.length)) { message(this.body, "No data in this range."); return; }
      this.body.replaceChildren();
      const data = this.joined();
      const series = [{}].concat(all.map((s, i) => {
        const prev = i >= this.series.length;
        return {
          label: (prev ? "previous · " : "") + labelText(s.labels),
          stroke: css(PALETTE[(prev ? i - this.series.length : i) % PALETTE.length]),
          width: 1.5, dash: prev ? [6, 4] : undefined, spanGaps: true,
          value: (u, v) => fmt(v, unitFor(this.config)),
        };
      }));
      const thresholds = (this.config.thresholds || []).slice().sort((a, b) => a.value - b.value);
      const self = this;
      const opts = {
        width: Math.max(120, this.body.clientWidth), height: Math.max(60, this.body.clientHeight - 28),
        series, legend: { show: all.length <= 6 },
        // The x axis shows the whole picked range (sliding forward as live points arrive).
        scales: { x: { time: true, range: (u, dmin, dmax) => {
          const length = self.span.to - self.span.from, high = Math.max(self.span.to, dmax || 0);
          return [high - length, high];
        } } },
        axes: [
          { stroke: css("--muted"), grid: { stroke: css("--border") } },
          { stroke: css("--muted"), grid: { stroke: css("--border") }, values: SeismoFormat.axis(unitFor(this.config)) },
        ],
        cursor: { drag: { x: true, y: false, setScale: false } },
        hooks: {
          // Threshold bands behind the series: warning up to critical, critical to the top.
          drawClear: [(u) => {
            if (!thresholds.length) return;
            const ctx = u.ctx, box = u.bbox;
            ctx.save();
            thresholds.forEach((t, i) => {
              const top = i + 1 < thresholds.length ? u.valToPos(thresholds[i + 1].value, "y", true) : box.top;
              const bottom = u.valToPos(t.value, "y", true);
              const y0 = Math.max(box.top, Math.min(top, bottom)), y1 = Math.min(box.top + box.height, bottom);
              if (y1 <= y0) return;
              ctx.fillStyle = t.level === "critical" ? "rgba(220,38,38,0.12)" : "rgba(217,119,6,0.12)";
              ctx.fillRect(box.left, y0, box.width, y1 - y0);
            });
            ctx.restore();
          }],
          // Drag to zoom: the selected span becomes the dashboard's range.
          setSelect: [(u) => {
            if (u.select.width < 4) return;
            const from = u.posToVal(u.select.left, "x"), to = u.posToVal(u.select.left + u.select.width, "x");
            u.setSelect({ left: 0, top: 0, width: 0, height: 0 }, false);
            if (self.hooks.zoom) self.hooks.zoom(from, to);
          }],
        },
      };
      this.plot = new uPlot(opts, data, this.body);
      charts.add(this);
    }
    resize() {
      if (this.plot) this.plot.setSize({ width: Math.max(120, this.body.clientWidth), height: Math.max(60, this.body.clientHeight - 28) });
    }
    push(ts, value, labels) {
      let target = this.series.find((s) => JSON.stringify(s.labels) === JSON.stringify(labels)) ||
        this.series.find((s) => matches(s.labels, labels));
      if (!target) { target = { labels, points: [] }; this.series.push(target); }
      const last = target.points[target.points.length - 1];
      if (last && ts <= last[0]) return false;
      target.points.push([ts, value]);
      const cutoff = ts - (this.span.to - this.span.from);
      while (target.points.length && (target.points[0][0] < cutoff || target.points.length > MAX_POINTS)) target.points.shift();
      return true;
    }
    // A live point: update the data in place when the set of lines is unchanged.
    refresh() {
      if (this.plot && this.plot.series.length - 1 === this.series.length + this.previous.length) {
        this.plot.setData(this.joined());
      } else {
        this.draw();
      }
    }
  }

  // Stat with sparkline -----------------------------------------------------------------------
  class Stat extends TimeSeries {
    // Several series (routes, sources, states) make one number: their sum when the widget says
    // so (rates, connections), otherwise the worst (highest) — and the busiest line as sparkline.
    current() {
      const lasts = [];
      let points = [];
      for (const series of this.series) {
        const pts = series.points.filter((p) => p[1] !== null);
        if (pts.length) lasts.push(pts[pts.length - 1][1]);
        if (pts.length > points.length) points = pts;
      }
      const last = !lasts.length ? null
        : this.config.options.combine === "sum" ? lasts.reduce((a, b) => a + b, 0) : Math.max(...lasts);
      return { last, points };
    }
    draw() {
      const { last, points } = this.current();
      this.body.replaceChildren();
      const value = document.createElement("output");
      value.className = "stat-value " + levelFor(last, this.config.thresholds);
      value.textContent = fmt(last, unitFor(this.config));
      value.dataset.value = last === null ? "" : String(last);
      this.body.appendChild(value);
      if (points.length > 1) this.body.appendChild(sparkline(points));
    }
    resize() {}
  }

  function sparkline(points) {
    const ns = "http://www.w3.org/2000/svg";
    const svg = document.createElementNS(ns, "svg");
    svg.setAttribute("viewBox", "0 0 100 24"); svg.setAttribute("preserveAspectRatio", "none");
    svg.setAttribute("class", "spark"); svg.setAttribute("aria-hidden", "true");
    const xs = points.map((p) => p[0]), ys = points.map((p) => p[1]);
    const x0 = Math.min(...xs), x1 = Math.max(...xs), y0 = Math.min(...ys), y1 = Math.max(...ys);
    const line = document.createElementNS(ns, "polyline");
    line.setAttribute("points", points.map((p) =>
      `${((p[0] - x0) / (x1 - x0 || 1) * 100).toFixed(1)},${(22 - (p[1] - y0) / (y1 - y0 || 1) * 20).toFixed(1)}`).join(" "));
    svg.appendChild(line);
    return svg;
  }

  // Gauge -----------------------------------------------------------------------------------
  class Gauge extends Stat {
    draw() {
      const { last } = this.current();
      const max = Number(this.config.options.max) || Math.max(100, ...(this.config.thresholds || []).map((t) => t.value));
      const frac = last === null ? 0 : Math.max(0, Math.min(1, last / max));
      const ns = "http://www.w3.org/2000/svg";
      this.body.replaceChildren();
      const svg = document.createElementNS(ns, "svg");
      svg.setAttribute("viewBox", "0 0 100 60"); svg.setAttribute("class", "gauge");
      const arc = (f) => { const a = Math.PI * (1 - f); return `${50 + 40 * Math.cos(a)} ${55 - 40 * Math.sin(a)}`; };
      const track = document.createElementNS(ns, "path");
      track.setAttribute("d", `M ${arc(0)} A 40 40 0 0 1 ${arc(1)}`); track.setAttribute("class", "gauge-track");
      const fill = document.createElementNS(ns, "path");
      fill.setAttribute("d", `M ${arc(0)} A 40 40 0 0 1 ${arc(frac)}`);
      fill.setAttribute("class", "gauge-fill " + levelFor(last, this.config.thresholds));
      svg.append(track, fill);
      this.body.appendChild(svg);
      const value = document.createElement("output");
      value.className = "stat-value gauge-value " + levelFor(last, this.config.thresholds);
      value.textContent = fmt(last, unitFor(this.config));
      value.dataset.value = last === null ? "" : String(last);
      this.body.appendChild(value);
    }
  }

  // Top-N table -----------------------------------------------------------------------------
  class Table extends Stat {
    draw() {
      const limit = Number(this.config.options.limit) || 10;
      const rows = this.series.map((s) => {
        const pts = s.points.filter((p) => p[1] !== null);
        return { labels: s.labels, value: pts.length ? pts[pts.length - 1][1] : null };
      }).filter((r) => r.value !== null).sort((a, b) => b.value - a.value).slice(0, limit);
      if (!rows.length) { message(this.body, "No data in this range."); return; }
      const table = document.createElement("table");
      table.className = "top-n";
      const head = table.createTHead().insertRow();
      for (const text of ["Series", "Value"]) { const th = document.createElement("th"); th.scope = "col"; th.textContent = text; head.appendChild(th); }
      const tbody = table.createTBody();
      const key = this.config.options.label;
      for (const r of rows) {
        const tr = tbody.insertRow();
        tr.insertCell().textContent = key && r.labels[key] !== undefined ? r.labels[key] : labelText(r.labels);
        const cell = tr.insertCell(); cell.textContent = fmt(r.value, unitFor(this.config));
        cell.className = levelFor(r.value, this.config.thresholds);
      }
      this.body.replaceChildren(table);
    }
  }

  // Alert list and load-test summary (other apps' APIs) --------------------------------------
  class AlertList {
    constructor(body, config) { this.body = body; this.config = config; }
    async load() {
      const data = await getJSON("/api/v1/alerts/?state=firing&limit=20");
      const alerts = Array.isArray(data) ? data : data.results || [];
      if (!alerts.length) { message(this.body, "No alert is firing."); return; }
      const ul = document.createElement("ul"); ul.className = "plain";
      for (const a of alerts) {
        const li = document.createElement("li");
        li.className = "alert-row " + (a.severity || "");
        li.textContent = `${a.rule_name || a.rule || a.summary || "alert"} · ${a.severity || ""} · ${a.state || ""}`;
        ul.appendChild(li);
      }
      this.body.replaceChildren(ul);
    }
    push() { return false; }
    refresh() {}
    resize() {}
  }

  class LoadTestSummary extends AlertList {
    async load() {
      const data = await getJSON("/api/v1/loadtest/runs/?limit=1&ordering=-id");
      const run = (Array.isArray(data) ? data : data.results || [])[0];
      if (!run) { message(this.body, "No load test has run yet."); return; }
      const dl = document.createElement("dl"); dl.className = "summary";
      for (const [k, label, unit] of [["status", "Status"], ["rps", "Requests/s"], ["p95_ms", "p95", "ms"], ["failures", "Failures"], ["requests", "Requests"]]) {
        const dt = document.createElement("dt"); dt.textContent = label;
        const dd = document.createElement("dd"); dd.textContent = typeof run[k] === "number" ? fmt(run[k], unit) : run[k] || "—";
        dl.append(dt, dd);
      }
      this.body.replaceChildren(dl);
    }
  }

  const KINDS = { timeseries: TimeSeries, stat: Stat, gauge: Gauge, table: Table, "alert-list": AlertList, "loadtest-summary": LoadTestSummary };

  function create(body, config, hooks) {
    const Kind = KINDS[config.kind] || TimeSeries;
    const widget = new Kind(body, config, hooks || {});
    const load = widget.load.bind(widget);
    // Errors become a message in the widget: one broken widget never breaks the page.
    widget.load = async (...args) => {
      body.setAttribute("aria-busy", "true");
      try { await load(...args); } catch (e) { message(body, "Cannot load: " + e.message, "form-error"); }
      finally { body.removeAttribute("aria-busy"); body.dataset.loaded = "true"; }
    };
    return widget;
  }

  window.SeismoWidgets = { create, fmt, matches, toEpoch, SETTINGS, sparkline };
})();
