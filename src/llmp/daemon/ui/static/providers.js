// Providers: every provider and deployment, its circuit and recent figures, and what a person can do.
import { html, useState } from "./vendor/htm-preact.mjs";
import { post, useLive } from "./api.js";
import { ago, pct, secondsAsMs } from "./format.js";

function Circuit({ circuit, testid }) {
  const state = circuit ? circuit.state : "unknown";
  const countdown = circuit && circuit.next_probe_in != null ? ` · probe in ${Math.ceil(circuit.next_probe_in)}s` : "";
  return html`<span class=${`badge s-${state}`} data-testid=${testid}>${state.replace("_", "-")}${countdown}</span>`;
}

function Figures({ item, now }) {
  return html`
    <td class="num">${secondsAsMs(item.latency_p50)}</td>
    <td class="num hide-narrow">${secondsAsMs(item.latency_p95)}</td>
    <td class="num">${pct(item.error_rate_5m)}</td>
    <td class="num hide-narrow">${item.requests_5m}</td>
    <td class="hide-narrow">${item.last_error
      ? html`<span class="err">${item.last_error}</span> <span class="muted">${ago(item.last_error_at, now)}</span>`
      : html`<span class="muted">none</span>`}</td>`;
}

export function Providers() {
  const live = useLive();
  const [message, setMessage] = useState(null);
  const [busy, setBusy] = useState(null);
  const tick = live.tick;
  if (!tick) return html`<p class="muted">Waiting for the daemon…</p>`;
  const act = async (name, action) => {
    setBusy(`${name}:${action}`);
    try {
      await post(`/ui/api/providers/${encodeURIComponent(name)}/${action}`);
      setMessage({ ok: true, text: `${name}: ${action === "check" ? "checked" : `${action}d`}` });
    } catch (error) {
      setMessage({ ok: false, text: `${name}: ${error.message}` });
    }
    setBusy(null);
  };
  const rows = [];
  for (const p of tick.providers) {
    const state = p.enabled ? p.state : "disabled";
    rows.push(html`<tr data-provider=${p.name}>
      <th scope="row">${p.name} <span class="muted">${p.type}</span></th>
      <td><span class=${`badge s-${state}`} data-testid=${`state-${p.name}`}>${state}</span></td>
      <td><${Circuit} circuit=${p.circuit} testid=${`circuit-${p.name}`} /></td>
      <${Figures} item=${p} now=${tick.now} />
      <td>${p.last_checked == null ? html`<span class="muted">never</span>`
        : html`<span class=${p.last_check_ok ? "s-ok" : "s-error"}>${p.last_check_ok ? "ok" : "failed"}</span>
          <span class="muted">${ago(p.last_checked, tick.now)}</span>`}</td>
      <td><div class="actions">
        <button onClick=${() => act(p.name, "check")} disabled=${busy !== null}
          aria-label=${`check ${p.name} now`}>Check now</button>
        ${p.enabled
          ? html`<button onClick=${() => act(p.name, "disable")} disabled=${busy !== null}
              aria-label=${`disable ${p.name}`}>Disable</button>`
          : html`<button class="primary" onClick=${() => act(p.name, "enable")} disabled=${busy !== null}
              aria-label=${`enable ${p.name}`}>Enable</button>`}
      </div></td>
    </tr>`);
    for (const d of p.deployments) {
      rows.push(html`<tr class="sub">
        <td>${d.model}</td>
        <td><span class=${`badge s-${d.state}`}>${d.state}</span></td>
        <td><${Circuit} circuit=${d.circuit} /></td>
        <${Figures} item=${d} now=${tick.now} />
        <td></td><td></td>
      </tr>`);
    }
  }
  return html`<section aria-labelledby="providers-title">
    <h2 id="providers-title">Providers</h2>
    ${message && html`<div class=${`notice ${message.ok ? "ok" : "bad"}`} role="status">${message.text}</div>`}
    <div class="panel"><table>
      <thead><tr><th>provider / deployment</th><th>state</th><th>circuit</th><th class="num">p50</th>
        <th class="num hide-narrow">p95</th><th class="num">errors 5m</th><th class="num hide-narrow">req 5m</th>
        <th class="hide-narrow">last error</th><th>last check</th><th>actions</th></tr></thead>
      <tbody>${rows}</tbody>
    </table></div>
  </section>`;
}
