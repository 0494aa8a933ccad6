// The one number formatter of the UI, driven by a metric's unit (and kind): cards, tables,
// tooltips and chart axes all call it, so a value reads the same everywhere.
//
//   SeismoFormat.value(2120000, "bytes")     // "2.02 MiB"
//   SeismoFormat.value(0.0123, "s")          // "12.3 ms"
//   SeismoFormat.value(8, "")                // "8"
//   SeismoFormat.value(1234567, "")          // "1,234,567"
//   SeismoFormat.value(42.456, "%")          // "42.5%"
//   SeismoFormat.value(1530, "req/s")        // "1,530 req/s"
//   SeismoFormat.axis("bytes")               // (u, ticks) => labels, for uPlot axes
//   SeismoFormat.unitOf(name, unit)          // the catalogue unit, else one read from a
//                                            // Prometheus-style suffix (_bytes, _seconds, _ratio)
//   SeismoFormat.apply(root)                 // formats every [data-fmt] element below root
(function () {
  "use strict";
  const grouping = new Intl.NumberFormat("en-US", { maximumFractionDigits: 0 });
  const BYTE_UNITS = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
  const BYTES = new Set(["bytes", "byte", "b", "by"]);
  const SECONDS = { s: 1, sec: 1, seconds: 1, second: 1, ms: 1e-3, milliseconds: 1e-3, us: 1e-6, "µs": 1e-6, microseconds: 1e-6, ns: 1e-9, nanoseconds: 1e-9 };
  const PERCENT = new Set(["%", "percent"]);
  const RATIO = new Set(["ratio", "1"]);

  // Three significant digits (more when asked: axis ticks close together), trailing zeros
  // dropped: 2.02, 20.2, 202, 0.00123.
  let sig = 3;
  function short(x) {
    const abs = Math.abs(x);
    if (abs === 0) return "0";
    const magnitude = Math.floor(Math.log10(abs));
    if (magnitude >= sig - 1) return grouping.format(Math.round(x));
    const digits = Math.min(9, sig - 1 - magnitude);
    return String(Number(x.toFixed(digits)));
  }

  // Plain numbers: integers exactly with separators; fractions to three significant digits;
  // very large ones compact (k is not used below a million: counts stay exact).
  function plain(x) {
    const abs = Math.abs(x);
    if (abs >= 1e15) return x.toExponential(2);
    if (abs >= 1e12) return short(x / 1e12) + " T";
    if (Number.isInteger(x)) return grouping.format(x);
    if (abs >= 1e6) return grouping.format(Math.round(x));
    if (abs >= 100) return new Intl.NumberFormat("en-US", { maximumFractionDigits: 1 }).format(x);
    return short(x);
  }

  function bytes(x) {
    const abs = Math.abs(x);
    let i = 0;
    while (abs >= 1024 ** (i + 1) && i < BYTE_UNITS.length - 1) i += 1;
    if (i === 0) return (Number.isInteger(x) ? grouping.format(x) : short(x)) + " B";
    return short(x / 1024 ** i) + " " + BYTE_UNITS[i];
  }

  function duration(seconds) {
    const abs = Math.abs(seconds);
    if (abs === 0) return "0 s";
    if (abs < 1e-6) return short(seconds * 1e9) + " ns";
    if (abs < 1e-3) return short(seconds * 1e6) + " µs";
    if (abs < 1) return short(seconds * 1e3) + " ms";
    if (abs < 60) return short(seconds) + " s";
    if (abs < 3600) return short(seconds / 60) + " min";
    if (abs < 86400) return short(seconds / 3600) + " h";
    return short(seconds / 86400) + " d";
  }

  function percent(x) {
    const abs = Math.abs(x);
    if (Number.isInteger(x)) return grouping.format(x) + "%";
    if (abs >= 100) return grouping.format(Math.round(x)) + "%";
    // 99.99% must not read 100% (nor 0.004% read 0%): add digits until it does not round to an edge.
    let digits = abs >= 10 ? 1 : 2, shown = Number(x.toFixed(digits));
    while (digits < 4 && (Math.abs(shown) === 100 || shown === 0)) shown = Number(x.toFixed(++digits));
    return String(shown) + "%";
  }

  function normal(unit) { return String(unit || "").trim(); }

  // "req/s", "bytes/s", "ops/s": the base unit's format with /s after it.
  function value(v, unit) {
    if (v === null || v === undefined || v === "") return "—";
    const x = Number(v);
    if (!Number.isFinite(x)) return Number.isNaN(x) ? "—" : (x > 0 ? "∞" : "−∞");
    const u = normal(unit);
    const lower = u.toLowerCase();
    if (lower.endsWith("/s") && lower.length > 2) {
      const base = u.slice(0, -2);
      if (BYTES.has(base.toLowerCase())) return bytes(x) + "/s";
      return plain(x) + " " + u;
    }
    if (BYTES.has(lower)) return bytes(x);
    if (Object.prototype.hasOwnProperty.call(SECONDS, lower)) return duration(x * SECONDS[lower]);
    if (PERCENT.has(lower)) return percent(x);
    if (RATIO.has(lower)) return percent(x * 100);
    if (!u) return plain(x);
    return plain(x) + " " + u;
  }

  // The unit a metric is read in: the catalogue's when it has one, else its name's suffix.
  function unitOf(name, unit) {
    if (normal(unit)) return normal(unit);
    const n = String(name || "");
    if (/_bytes(_total)?$/.test(n)) return "bytes";
    if (/_seconds(_total)?$/.test(n)) return "s";
    if (/_(ms|milliseconds)$/.test(n)) return "ms";
    if (/_ratio$/.test(n)) return "ratio";
    if (/_percent$/.test(n)) return "%";
    return "";
  }

  // uPlot `values` callback for an axis in this unit: as many digits as it takes for
  // neighbouring ticks to read differently (4.77, 4.77, 4.77 MiB would say nothing).
  function axis(unit) {
    return (u, ticks) => {
      let labels = [];
      for (sig = 3; sig <= 7; sig += 1) {
        labels = ticks.map((t) => (t === null ? "" : value(t, unit)));
        const shown = labels.filter(Boolean);
        if (new Set(shown).size === shown.length) break;
      }
      sig = 3;
      return labels;
    };
  }

  // Server-rendered numbers carry data-value and data-unit; this gives them their text.
  function apply(root) {
    for (const el of (root || document).querySelectorAll("[data-fmt]")) {
      const raw = el.dataset.value;
      if (raw === undefined || raw === "") continue;
      el.textContent = value(Number(raw), el.dataset.unit || "");
      el.title = raw + (el.dataset.unit ? " " + el.dataset.unit : "");
    }
  }

  window.SeismoFormat = { value, unitOf, axis, apply, bytes, duration, percent, plain };
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", () => apply(document));
  else apply(document);
  document.addEventListener("htmx:afterSwap", (e) => apply(e.target));
})();
