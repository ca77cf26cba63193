// Numbers and times as a person reads them.
export const dash = "–";
export const num = (v, digits = 0) => v == null ? dash : Number(v).toLocaleString(undefined,
  { maximumFractionDigits: digits, minimumFractionDigits: digits });
export const ms = (v) => v == null ? dash : `${num(v, v < 10 ? 1 : 0)} ms`;
export const secondsAsMs = (v) => v == null ? dash : ms(v * 1000);
export const pct = (v) => v == null ? dash : `${num(v * 100, 1)}%`;
export const money = (v) => v == null ? dash : v >= 0.01 || v === 0 ? `$${num(v, 4)}` : `$${Number(v).toFixed(6)}`;
export const clockTime = (unix) => unix == null ? dash : new Date(unix * 1000).toLocaleTimeString();
export function ago(unix, now) {
  if (unix == null) return "never";
  const s = Math.max(0, Math.round((now ?? Date.now() / 1000) - unix));
  if (s < 60) return `${s}s ago`;
  if (s < 3600) return `${Math.floor(s / 60)}m ago`;
  return `${Math.floor(s / 3600)}h ago`;
}
