// Config: what the daemon runs with (keys masked), and reloading the file.
import { html, useEffect, useState } from "./vendor/htm-preact.mjs";
import { get, post } from "./api.js";
import { clockTime } from "./format.js";

function Changes({ result }) {
  const p = result.providers;
  const line = (label, names) => names.length ? html`<li>${label}: ${names.join(", ")}</li>` : null;
  const none = !p.added.length && !p.removed.length && !p.changed.length && !result.aliases_changed;
  return html`<div class="notice ok" role="status" data-testid="reload-result">
    <strong>Reloaded.</strong>
    <ul>${line("providers added", p.added)}${line("providers removed", p.removed)}${line("providers changed", p.changed)}
      ${result.aliases_changed && html`<li>model aliases changed</li>`}
      ${none && html`<li>no provider or alias changed</li>`}
      ${line("waiting for a restart", result.needs_restart)}</ul></div>`;
}

export function Config() {
  const [config, setConfig] = useState(null);
  const [result, setResult] = useState(null);
  const [busy, setBusy] = useState(false);
  const load = () => get("/ui/api/config").then(setConfig, (e) => setResult({ error: e.message }));
  useEffect(() => { load(); }, []);
  const reload = async () => {
    setBusy(true);
    try {
      setResult({ done: await post("/ui/api/reload") });
      await load();
    } catch (error) {
      setResult({ error: error.message });
    }
    setBusy(false);
  };
  return html`<section aria-labelledby="config-title">
    <h2 id="config-title">Config</h2>
    <div class="toolbar">
      <span class="muted">${config ? (config.source ?? "built-in defaults") : ""}
        ${config && config.reloaded_at ? ` · reloaded at ${clockTime(config.reloaded_at)}` : ""}</span>
      <button class="primary" onClick=${reload} disabled=${busy}>Reload config file</button>
    </div>
    ${result && result.done && html`<${Changes} result=${result.done} />`}
    ${result && result.error && html`<div class="notice bad" role="alert" data-testid="reload-error">${result.error}</div>`}
    <pre class="config" data-testid="config">${config ? JSON.stringify(config.config, null, 2) : "Loading…"}</pre>
  </section>`;
}
