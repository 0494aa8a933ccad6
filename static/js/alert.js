// An alert's page: the series around the incident, the rule's thresholds as lines and the
// incident (start to resolution) shaded, with the transitions marked. Data from #alert-chart-data.
(function () {
  "use strict";
  const data = JSON.parse(document.getElementById("alert-chart-data").textContent);
  const body = document.getElementById("alert-chart");
  const F = window.SeismoFormat;
  const unit = F.unitOf(data.metric, data.unit);
  const css = (name) => getComputedStyle(document.documentElement).getPropertyValue(name).trim() || "#888";
  const PALETTE = ["--accent", "--c5", "--c6", "--ok"];
  let plot = null, series = [];

  function message(text, cls) {
    body.replaceChildren();
    const p = document.createElement("p"); p.className = "widget-message " + (cls || "muted"); p.textContent = text;
    body.appendChild(p);
    body.dataset.loaded = "true";
  }

  function draw() {
    if (plot) { plot.destroy(); plot = null; }
    if (!series.some((s) => s.points.length)) { message("No samples of this series in the incident's window."); return; }
    body.replaceChildren();
    const joined = uPlot.join(series.map((s) => [s.points.map((p) => p[0]), s.points.map((p) => p[1])]));
    const opts = {
      width: Math.max(200, body.clientWidth - 8), height: Math.max(120, body.clientHeight - 50),
      scales: { x: { time: true, range: () => [data.from, data.to] }, y: { range: (u, min, max) => {
        // Keep every threshold in view, whatever the series did.
        const values = [min, max, ...data.thresholds.map((t) => t.value)].filter((v) => v !== null && Number.isFinite(v));
        const lo = Math.min(...values), hi = Math.max(...values), pad = (hi - lo || Math.abs(hi) || 1) * 0.1;
        return [lo - pad, hi + pad];
      } } },
      series: [{}].concat(series.map((s, i) => ({
        label: Object.entries(s.labels).map(([k, v]) => `${k}=${v}`).join(", ") || data.metric,
        stroke: css(PALETTE[i % PALETTE.length]), width: 1.5, spanGaps: true, value: (u, v) => F.value(v, unit),
      }))),
      axes: [
        { stroke: css("--muted"), grid: { stroke: css("--border") } },
        { stroke: css("--muted"), grid: { stroke: css("--border") }, values: F.axis(unit), size: 80 },
      ],
      hooks: { draw: [(u) => {
        const ctx = u.ctx, box = u.bbox;
        ctx.save();
        // The incident, shaded from start to resolution (or to now).
        const x0 = u.valToPos(data.incident[0], "x", true);
        const x1 = u.valToPos(data.incident[1] || data.to, "x", true);
        ctx.fillStyle = "rgba(220, 38, 38, 0.08)";
        ctx.fillRect(Math.max(box.left, x0), box.top, Math.min(box.left + box.width, x1) - Math.max(box.left, x0), box.height);
        // Thresholds as dashed lines with their level.
        ctx.setLineDash([6, 4]); ctx.lineWidth = 1.5;
        ctx.font = `${12 * devicePixelRatio}px system-ui, sans-serif`;
        for (const t of data.thresholds) {
          const y = u.valToPos(t.value, "y", true);
          ctx.strokeStyle = css(t.level === "critical" ? "--bad" : "--warn");
          ctx.fillStyle = ctx.strokeStyle;
          ctx.beginPath(); ctx.moveTo(box.left, y); ctx.lineTo(box.left + box.width, y); ctx.stroke();
          const text = `${t.level} ${F.value(t.value, unit)}`;
          ctx.textAlign = "right";
          ctx.fillText(text, box.left + box.width - 6 * devicePixelRatio, y - 4 * devicePixelRatio);
        }
        // Each transition as a thin vertical mark.
        ctx.setLineDash([]); ctx.lineWidth = 1; ctx.strokeStyle = css("--muted");
        for (const e of data.events) {
          const x = u.valToPos(e.at, "x", true);
          if (x < box.left || x > box.left + box.width) continue;
          ctx.beginPath(); ctx.moveTo(x, box.top); ctx.lineTo(x, box.top + box.height); ctx.stroke();
        }
        ctx.restore();
      }] },
    };
    plot = new uPlot(opts, joined, body);
    body.dataset.loaded = "true";
    body.dataset.thresholds = String(data.thresholds.length);
  }

  async function load() {
    const p = new URLSearchParams({ metric: data.metric, from: data.from, to: data.to, agg: data.aggregation });
    for (const [k, v] of Object.entries(data.labels)) p.set("label." + k, v);
    const response = await fetch("/api/v1/query/?" + p, { headers: { Accept: "application/json" }, credentials: "same-origin" });
    if (!response.ok) { message(`Cannot load the series (HTTP ${response.status}).`, "form-error"); return; }
    const answer = await response.json();
    series = (answer.series || []).map((s) => ({ labels: s.labels || {}, points: s.points || [] }));
    draw();
  }

  document.addEventListener("seismo:theme", () => { if (series.length) draw(); });
  load();
})();
