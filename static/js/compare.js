// Comparing two load-test runs: RPS, p95 latency and errors per second of both runs overlaid
// on one axis of seconds since each run started. Data from #compare-data (RunSecond rows:
// [second, requests, failures, p50_ms, p95_ms, p99_ms]).
(function () {
  "use strict";
  const data = JSON.parse(document.getElementById("compare-data").textContent);
  const F = window.SeismoFormat;
  const css = (name) => getComputedStyle(document.documentElement).getPropertyValue(name).trim() || "#888";
  const CHARTS = { rps: [1, "req/s"], p95: [4, "ms"], errors: [2, "/s"] };
  const plots = [];

  function draw() {
    while (plots.length) plots.pop().destroy();
    const runs = [data.a, data.b];
    for (const figure of document.querySelectorAll("#compare-charts [data-chart]")) {
      const [column, unit] = CHARTS[figure.dataset.chart];
      const body = figure.querySelector(".chart-body");
      body.replaceChildren();
      const lines = runs.map((run) => [run.seconds.map((r) => r[0]), run.seconds.map((r) => r[column])]);
      if (!lines.some((l) => l[0].length)) {
        const p = document.createElement("p"); p.className = "muted"; p.textContent = "No seconds recorded for these runs.";
        body.appendChild(p); continue;
      }
      const joined = uPlot.join(lines);
      const opts = {
        width: Math.max(200, body.clientWidth), height: Math.max(120, body.clientHeight - 40),
        scales: { x: { time: false } },
        series: [{ label: "second", value: (u, v) => (v == null ? "—" : `${v} s`) }].concat(runs.map((run, i) => ({
          label: (i === 0 ? "baseline · " : "") + run.label,
          stroke: css(i === 0 ? "--muted" : "--accent"), width: 1.75, dash: i === 0 ? [6, 4] : undefined, spanGaps: true,
          value: (u, v) => F.value(v, unit === "/s" ? "" : unit) + (unit === "/s" && v != null ? "/s" : ""),
        }))),
        axes: [
          { stroke: css("--muted"), grid: { stroke: css("--border") }, values: (u, ticks) => ticks.map((t) => `${t} s`) },
          { stroke: css("--muted"), grid: { stroke: css("--border") }, values: F.axis(unit === "/s" ? "" : unit), size: 70 },
        ],
      };
      plots.push(new uPlot(opts, joined, body));
      figure.dataset.series = String(lines.filter((l) => l[0].length).length);
    }
    document.getElementById("compare-charts").dataset.loaded = "true";
  }
  document.addEventListener("seismo:theme", draw);
  draw();
})();
