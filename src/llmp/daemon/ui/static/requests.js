// Requests: the last requests as they finish, filtered; one opens to show every attempt it made.
import { html, useEffect, useState } from "./vendor/htm-preact.mjs";
import { get, useLive } from "./api.js";
import { clockTime, money, ms, num } from "./format.js";

const FILTERS = [["model", "model"], ["provider", "provider"], ["status", "status"], ["client", "client"]];
const pretty = (text) => { try { return JSON.stringify(JSON.parse(text), null, 2); } catch { return text; } };
const statusClass = (r) => r.status >= 400 ? "err" : "s-ok";

function choices(requests, key) {
  const values = new Set(requests.map((r) => key === "status" ? (r.status >= 400 ? "errors" : "ok") : r[key]));
  return [...values].filter((v) => v != null).sort();
}

function matches(request, filters) {
  return FILTERS.every(([key]) => {
    const want = filters[key];
    if (!want) return true;
    if (key === "status") return want === "errors" ? request.status >= 400 : request.status < 400;
    return String(request[key]) === want;
  });
}

function Detail({ id }) {
  const [found, setFound] = useState(null);
  const [error, setError] = useState(null);
  useEffect(() => {
    setFound(null); setError(null);
    get(`/ui/api/requests/${encodeURIComponent(id)}`).then(setFound, (e) => setError(e.message));
  }, [id]);
  if (error) return html`<div class="panel detail" role="alert">${error}</div>`;
  if (!found) return html`<div class="panel detail muted">Loading…</div>`;
  const bodies = found.bodies;
  return html`<article class="panel detail" aria-labelledby="detail-title" data-testid="request-detail">
    <h2 id="detail-title" tabindex="-1">Request <span class="mono">${found.request_id}</span></h2>
    <dl>
      <dt>status</dt><dd class=${statusClass(found)}>${found.status}${found.error_class ? ` (${found.error_class})` : ""}</dd>
      <dt>model asked</dt><dd>${found.model}${found.alias ? html` <span class="muted">alias ${found.alias}</span>` : ""}</dd>
      <dt>answered by</dt><dd data-testid="answered-by">${found.status < 400 && found.provider
        ? `${found.provider} / ${found.served_model}` : "nobody"}</dd>
      <dt>client</dt><dd>${found.client ?? "–"} <span class="muted">${found.inbound} ${found.operation}${found.streamed ? ", streamed" : ""}</span></dd>
      <dt>started</dt><dd>${clockTime(found.started)}</dd>
      <dt>latency</dt><dd>${ms(found.latency_ms)} <span class="muted">first byte ${ms(found.ttft_ms)}</span></dd>
      <dt>tokens</dt><dd>${num(found.tokens_in)} in, ${num(found.tokens_out)} out${found.tokens_cached ? `, ${num(found.tokens_cached)} cached` : ""}${found.estimated ? " (estimated)" : ""}</dd>
      <dt>cost</dt><dd>${money(found.cost)}</dd>
    </dl>
    <h3>Attempts</h3>
    <div class="panel"><table data-testid="attempts">
      <thead><tr><th>#</th><th>provider</th><th>model</th><th>outcome</th></tr></thead>
      <tbody>${found.attempt_list.map((a) => html`<tr>
        <td>${a.n}</td><td>${a.provider}</td><td>${a.model}</td>
        <td class=${a.outcome === "answered" ? "s-ok" : "err"}>${a.outcome}${a.reason ? `: ${a.reason}` : ""}</td>
      </tr>`)}</tbody>
    </table></div>
    ${bodies === undefined ? html`<p class="muted">Bodies are not stored (usage.log_bodies is off).</p>`
      : bodies === null ? html`<p class="muted">No stored body for this request.</p>`
      : html`<h3>Request body</h3><pre>${bodies.request == null ? "–" : pretty(bodies.request)}</pre>
          <h3>Response body</h3><pre>${bodies.response == null ? "–" : pretty(bodies.response)}</pre>`}
  </article>`;
}

export function Requests({ id }) {
  const live = useLive();
  const [filters, setFilters] = useState({});
  const shown = live.requests.filter((r) => matches(r, filters)).slice(0, 200);
  const open = (r) => { location.hash = `#/requests/${encodeURIComponent(r.request_id)}`; };
  return html`<section aria-labelledby="requests-title">
    <h2 id="requests-title">Requests <span class="muted">(last ${live.requests.length}, live)</span></h2>
    <div class="filters" role="group" aria-label="filters">
      ${FILTERS.map(([key, label]) => html`<label>${label}
        <select data-filter=${key} value=${filters[key] || ""}
          onChange=${(e) => setFilters({ ...filters, [key]: e.target.value })}>
          <option value="">all</option>
          ${choices(live.requests, key).map((v) => html`<option value=${v}>${v}</option>`)}
        </select></label>`)}
    </div>
    ${id && html`<${Detail} id=${id} />`}
    <div class="panel"><table data-testid="requests">
      <thead><tr><th>time</th><th>model</th><th>provider</th><th class="num">status</th>
        <th class="num hide-narrow">attempts</th><th class="num">latency</th><th class="num hide-narrow">tokens</th>
        <th class="num hide-narrow">cost</th><th class="hide-narrow">client</th></tr></thead>
      <tbody>${shown.map((r) => html`<tr class="row" tabindex="0" data-request=${r.request_id}
          aria-selected=${r.request_id === id} onClick=${() => open(r)}
          onKeyDown=${(e) => { if (e.key === "Enter" || e.key === " ") { e.preventDefault(); open(r); } }}>
        <td>${clockTime(r.ts)}</td><td>${r.model}</td><td>${r.provider ?? "–"}</td>
        <td class=${`num ${statusClass(r)}`}>${r.status}</td><td class="num hide-narrow">${r.attempts}</td>
        <td class="num">${ms(r.latency_ms)}</td>
        <td class="num hide-narrow">${r.tokens_in == null ? "–" : `${num(r.tokens_in)} / ${num(r.tokens_out)}`}</td>
        <td class="num hide-narrow">${money(r.cost)}</td><td class="hide-narrow">${r.client ?? "–"}</td>
      </tr>`)}</tbody>
    </table>
    ${shown.length === 0 && html`<p class="muted">&nbsp;No requests yet.</p>`}</div>
  </section>`;
}
