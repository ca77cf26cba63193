// Overview: the gateway's vital signs now, and over the last hour.
import { html } from "./vendor/htm-preact.mjs";
import { useLive } from "./api.js";
import { Chart } from "./chart.js";
import { money, ms, num, pct } from "./format.js";

function Card({ id, label, value }) {
  return html`<div class="card"><div class="label">${label}</div>
    <div class="value" data-testid=${id}>${value}</div></div>`;
}

export function Overview() {
  const live = useLive();
  const tick = live.tick;
  const stats = tick ? tick.stats : {};
  const today = tick && tick.today;
  return html`<section aria-labelledby="overview-title">
    <h2 id="overview-title">Overview <span class="muted">(last ${num(stats.window_s)} s)</span></h2>
    <div class="cards">
      <${Card} id="rps" label="Requests / s" value=${num(stats.rps, 2)} />
      <${Card} id="error-rate" label="Error rate" value=${pct(stats.error_rate)} />
      <${Card} id="p50" label="Latency p50" value=${ms(stats.latency_p50_ms)} />
      <${Card} id="p95" label="Latency p95" value=${ms(stats.latency_p95_ms)} />
      <${Card} id="ttft" label="Time to first token" value=${ms(stats.ttft_p50_ms)} />
      <${Card} id="in-flight" label="In flight" value=${num(stats.in_flight)} />
      <${Card} id="requests-total" label="Requests since start" value=${num(stats.requests)} />
      <${Card} id="tokens-today" label="Tokens today" value=${today ? num(today.tokens) : "–"} />
      <${Card} id="cost-today" label="Cost today" value=${today ? money(today.cost) : "–"} />
    </div>
    <div class="charts">
      <${Chart} title="Requests per second" series=${live.series} lines=${[{ label: "req/s", key: "rps" }]} />
      <${Chart} title="Error rate" unit="%" floor=${5} series=${live.series}
        lines=${[{ label: "errors", key: "error_rate", scale: 100 }]} />
      <${Chart} title="Latency" unit=" ms" floor=${1} series=${live.series}
        lines=${[{ label: "p50", key: "latency_p50_ms" }, { label: "p95", key: "latency_p95_ms" }]} />
      <${Chart} title="Time to first token" unit=" ms" floor=${1} series=${live.series}
        lines=${[{ label: "p50", key: "ttft_p50_ms" }]} />
    </div>
  </section>`;
}
