// mlmesh monitor page: polls /api/summary and redraws. No dependencies.
"use strict";
const POLL_MS = 1500;

function fmt(v, digits) {
  if (v === null || v === undefined || Number.isNaN(v)) return "-";
  const a = Math.abs(v);
  if (digits !== undefined) return v.toFixed(digits);
  if (Number.isInteger(v) && a < 1e4) return String(v);
  if (a >= 1e6) return (v / 1e6).toFixed(2) + "M";
  if (a >= 1e4) return (v / 1e3).toFixed(1) + "k";
  if (a >= 100) return v.toFixed(0);
  if (a >= 1) return v.toFixed(2);
  return v.toPrecision(3);
}
function pct(v) { return v === null || v === undefined ? "-" : (100 * v).toFixed(2) + "%"; }
function esc(s) {
  return String(s).replace(/[&<>"]/g, c => ({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;"}[c]));
}
function rows(samples, metric) { return (samples[metric] || []); }
function byKey(samples, metric, keys) {
  const out = {};
  for (const s of rows(samples, metric)) out[keys.map(k => s.labels[k]).join("|")] = s;
  return out;
}
function table(head, body) {
  if (!body.length) return '<div class="empty">no data yet</div>';
  const th = head.map(h => `<th>${esc(h)}</th>`).join("");
  const tr = body.map(r => "<tr>" + r.map((c, i) =>
    `<td${i ? ' class="n"' : ""}>${c}</td>`).join("") + "</tr>").join("");
  return `<table><thead><tr>${th}</tr></thead><tbody>${tr}</tbody></table>`;
}
function put(id, html) { document.querySelector(`#${id} .body`).innerHTML = html; }

function render(d) {
  const s = d.samples || {};
  const h = d.headline || {};
  const kpis = [
    ["p95 latency (ms)", fmt(h.latency_p95_ms), "kpi-p95"],
    ["error rate", pct(h.error_rate), "kpi-err"],
    ["max lag", fmt(h.consumer_lag), "kpi-lag"],
    ["feature freshness p99 (ms)", fmt(h.feature_freshness_p99_ms), "kpi-fresh"],
    ["max PSI", fmt(h.psi, 3), "kpi-psi"],
    ["AUC (worst)", fmt(h.auc, 3), "kpi-auc"],
    ["cost / 1k predictions", fmt(h.cost_per_1k_predictions, 6), "kpi-cost"],
    ["active alerts", String(h.active_alerts || 0), "kpi-alerts"],
    ["records processed", fmt(Object.values(d.processed || {}).reduce((a, b) => a + b, 0)),
     "kpi-processed"],
  ];
  document.getElementById("kpis").innerHTML = kpis.map(([k, v, id]) =>
    `<div class="kpi"><div class="v" id="${id}">${v}</div><div class="k">${esc(k)}</div></div>`
  ).join("");

  put("alerts", table(["rule", "severity", "value", "labels"], (d.alerts || []).map(a => [
    esc(a.rule), `<span class="sev-${esc(a.severity)}">${esc(a.severity)}</span>`, fmt(a.value),
    esc(Object.entries(a.labels).map(([k, v]) => `${k}=${v}`).join(" "))])) +
    (d.recent_alerts && d.recent_alerts.length ? "<h2 style='margin-top:.8rem'>Recent</h2>" +
      table(["rule", "state", "value"], d.recent_alerts.slice(-8).reverse().map(a => [
        esc(a.rule), a.resolved ? '<span class="good">resolved</span>'
          : `<span class="sev-${esc(a.severity)}">firing</span>`, fmt(a.value)])) : ""));

  const p50 = byKey(s, "latency_p50_ms", ["service", "model_version"]);
  const p99 = byKey(s, "latency_p99_ms", ["service", "model_version"]);
  const err = byKey(s, "error_rate", ["service", "model_version"]);
  put("latency", table(["service / version", "n", "p50", "p95", "p99", "errors"],
    rows(s, "latency_p95_ms").map(r => {
      const k = r.labels.service + "|" + r.labels.model_version;
      return [esc(r.labels.service + " " + r.labels.model_version), fmt(r.count),
        fmt((p50[k] || {}).value), fmt(r.value), fmt((p99[k] || {}).value),
        pct((err[k] || {}).value)];
    })));

  put("lag", table(["group / topic", "partition", "lag"], rows(s, "consumer_lag")
    .slice().sort((a, b) => b.value - a.value).slice(0, 15).map(r => [
      esc(r.labels.group + " / " + r.labels.topic), esc(r.labels.partition), fmt(r.value)])));

  const f = (m) => (rows(s, m)[0] || {}).value;
  put("freshness", table(["path", "p50 (ms)", "p99 (ms)", "within 5 min"], [
    ["event -> feature", fmt(f("feature_freshness_p50_ms")), fmt(f("feature_freshness_p99_ms")),
      pct(f("feature_freshness_within_target"))],
    ["document -> searchable", "-", fmt(f("doc_to_searchable_all_p99_ms")),
      pct(f("doc_to_searchable_within_target"))],
  ].filter(r => r.slice(1).some(c => c !== "-"))));

  put("drift", table(["version", "feature", "PSI", "n"], rows(s, "psi")
    .slice().sort((a, b) => b.value - a.value).slice(0, 14).map(r => [
      esc(r.labels.model_version), esc(r.labels.feature),
      `<span class="${r.value > 0.2 ? "bad" : "good"}">${fmt(r.value, 3)}</span>`, fmt(r.count)])));

  const auc = byKey(s, "auc", ["model_version"]);
  put("quality", table(["version", "labelled", "accuracy", "AUC"], rows(s, "accuracy").map(r => [
    esc(r.labels.model_version), fmt(r.count), fmt(r.value, 3),
    fmt((auc[r.labels.model_version] || {}).value, 3)])));

  const cpu = byKey(s, "inference_cpu_ms_per_prediction", ["model_version"]);
  const model = byKey(s, "model_compute_ms_per_prediction", ["model_version"]);
  const vsBase = byKey(s, "cost_per_1k_predictions_vs_baseline", ["model_version"]);
  put("cost", table(["what", "version", "per 1,000", "CPU ms / call", "model ms / call",
                     "vs baseline", "n"],
    rows(s, "cost_per_1k_predictions").map(r => ["predictions", esc(r.labels.model_version),
      fmt(r.value, 6), fmt((cpu[r.labels.model_version] || {}).value, 3),
      fmt((model[r.labels.model_version] || {}).value, 3),
      fmt((vsBase[r.labels.model_version] || {}).value, 2), fmt(r.count)]).concat(
      rows(s, "cost_per_1k_documents").map(r => [
      "documents", esc(r.labels.model_version), fmt(r.value, 6), "", "", "", fmt(r.count)]))));

  const cache = byKey(s, "cache_hit_rate", ["model_version"]);
  put("rollout", table(["version", "route", "share", "cache hits"], rows(s, "route_share").map(r => [
    esc(r.labels.model_version), esc(r.labels.route), pct(r.value),
    pct((cache[r.labels.model_version] || {}).value)])));

  put("dlq", table(["topic", "service", "reason", "count", "/s"], rows(s, "dlq_rate").map(r => [
    esc(r.labels.topic), esc(r.labels.service), esc(r.labels.error_class), fmt(r.count),
    fmt(r.value, 3)])));

  put("throughput", table(["kind", "records", "duplicates dropped", "replays skipped"],
    Object.keys(d.processed || {}).sort().map(k => [esc(k), fmt(d.processed[k]),
      fmt((d.duplicates || {})[k] || 0), fmt((d.replayed || {})[k] || 0)])));
}

let lastOk = 0;
async function poll() {
  const status = document.getElementById("status");
  try {
    const res = await fetch("/api/summary", {cache: "no-store"});
    const d = await res.json();
    if (d.ready) {
      render(d);
      lastOk = Date.now();
      status.textContent = `live - window ${d.window_s}s, range ${d.range_s}s`;
      status.className = "";
      document.getElementById("updated").textContent =
        "updated " + new Date(d.generated_at * 1000).toLocaleTimeString();
    } else {
      status.textContent = "monitor starting (restoring tables)...";
    }
  } catch (e) {
    status.textContent = "monitor unreachable: " + e;
    status.className = "stale";
  }
  setTimeout(poll, POLL_MS);
}
poll();
