// Usage: tokens and cost from the ledger, grouped, with the same table as CSV.
import { html, useEffect, useState } from "./vendor/htm-preact.mjs";
import { get } from "./api.js";
import { money, ms, num } from "./format.js";

const GROUPS = ["day", "provider", "model", "alias", "client"];
const SINCE = [["24h", "last 24 hours"], ["7d", "last 7 days"], ["30d", "last 30 days"], ["365d", "last year"]];

export function Usage() {
  const [by, setBy] = useState("day");
  const [since, setSince] = useState("7d");
  const [report, setReport] = useState(null);
  const [error, setError] = useState(null);
  useEffect(() => {
    get(`/ui/api/usage?by=${by}&since=${since}`).then((r) => { setReport(r); setError(null); },
      (e) => setError(e.message));
  }, [by, since]);
  const rows = report ? report.rows : [];
  const total = report && report.total;
  return html`<section aria-labelledby="usage-title">
    <h2 id="usage-title">Usage</h2>
    <div class="toolbar">
      <label>group by <select data-testid="usage-by" value=${by} onChange=${(e) => setBy(e.target.value)}>
        ${GROUPS.map((g) => html`<option value=${g}>${g}</option>`)}</select></label>
      <label>period <select value=${since} onChange=${(e) => setSince(e.target.value)}>
        ${SINCE.map(([v, label]) => html`<option value=${v}>${label}</option>`)}</select></label>
      <a href=${`/ui/api/usage?by=${by}&since=${since}&format=csv`} download data-testid="usage-csv">Download CSV</a>
    </div>
    ${error && html`<div class="notice bad" role="alert">${error}</div>`}
    ${report && report.disabled && html`<div class="notice">The usage ledger is off (usage.enabled: false).</div>`}
    <div class="panel"><table data-testid="usage">
      <thead><tr><th>${by}</th><th class="num">requests</th><th class="num">errors</th><th class="num">tokens in</th>
        <th class="num">tokens out</th><th class="num hide-narrow">cached</th><th class="num">cost</th>
        <th class="num hide-narrow">avg latency</th></tr></thead>
      <tbody>${rows.map((r) => html`<tr>
        <td>${r.name}</td><td class="num">${num(r.requests)}</td><td class="num">${num(r.errors)}</td>
        <td class="num">${num(r.tokens_in)}${r.estimated ? " ~" : ""}</td><td class="num">${num(r.tokens_out)}</td>
        <td class="num hide-narrow">${num(r.tokens_cached)}</td><td class="num">${money(r.cost)}${r.unpriced ? " +?" : ""}</td>
        <td class="num hide-narrow">${ms(r.avg_latency_ms)}</td></tr>`)}</tbody>
      ${total && rows.length > 0 && html`<tfoot><tr><th>total</th><th class="num">${num(total.requests)}</th>
        <th class="num">${num(total.errors)}</th><th class="num">${num(total.tokens_in)}</th>
        <th class="num">${num(total.tokens_out)}</th><th class="num hide-narrow">${num(total.tokens_cached)}</th>
        <th class="num">${money(total.cost)}</th><th class="num hide-narrow">${ms(total.avg_latency_ms)}</th></tr></tfoot>`}
    </table>
    ${report && rows.length === 0 && html`<p class="muted">&nbsp;No requests in this period.</p>`}</div>
    <p class="muted">~ some counts are estimates (the provider reported no usage); +? some models have no price.</p>
  </section>`;
}
