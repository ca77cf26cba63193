// Talking to the daemon: sign-in, JSON calls with the CSRF token, and the live event stream.
import { useEffect, useState } from "./vendor/htm-preact.mjs";

let csrf = null;
const HOUR = 3600;
const MAX_REQUESTS = 500;

export class Refused extends Error {}

async function answer(response) {
  const body = await response.json().catch(() => ({}));
  if (!response.ok) {
    const message = (body.error && body.error.message) || response.statusText;
    throw response.status === 401 ? new Refused(message) : new Error(message);
  }
  return body;
}

// A one-time code in the fragment (from `llmp ui`) becomes a session cookie; without one,
// an existing session is used. The code leaves the address bar at once.
export async function signIn() {
  const found = /code=([\w-]+)/.exec(location.hash);
  let info;
  if (found) {
    history.replaceState(null, "", location.pathname + "#/overview");
    info = await answer(await fetch("/ui/api/session", {
      method: "POST", headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ code: found[1] }),
    }));
  } else {
    info = await answer(await fetch("/ui/api/session"));
  }
  csrf = info.csrf;
  return info;
}

export async function get(path) {
  return answer(await fetch(path, { headers: { Accept: "application/json" } }));
}

export async function post(path, body) {
  return answer(await fetch(path, {
    method: "POST",
    headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
    body: JSON.stringify(body || {}),
  }));
}

// What every page reads live: the last tick, the last hour's series, the last requests.
export const live = {
  tick: null, connected: false, requests: [],
  series: { t: [], rps: [], error_rate: [], latency_p50_ms: [], latency_p95_ms: [], ttft_p50_ms: [] },
};
const listeners = new Set();
const notify = () => listeners.forEach((listener) => listener());

function addPoint(t, point) {
  const series = live.series;
  for (const name of Object.keys(series)) series[name].push(name === "t" ? t : point[name] ?? null);
  while (series.t.length && series.t[0] < t - HOUR) for (const name of Object.keys(series)) series[name].shift();
}

function addRequests(fresh) {
  const known = new Set(live.requests.map((r) => r.request_id));
  const added = fresh.filter((r) => !known.has(r.request_id)).reverse();
  live.requests = added.concat(live.requests).slice(0, MAX_REQUESTS);
}

export async function startLive() {
  const [history, listed] = await Promise.all([get("/ui/api/history"), get("/ui/api/requests")]);
  for (const point of history.points) addPoint(point.t, point);
  live.requests = listed.requests;
  const source = new EventSource("/ui/api/events");
  source.addEventListener("tick", (event) => {
    const tick = JSON.parse(event.data);
    live.tick = tick;
    live.connected = true;
    addPoint(tick.now, tick.stats);
    addRequests(tick.requests);
    notify();
  });
  source.addEventListener("error", () => { live.connected = false; notify(); });
  notify();
}

// Re-render the calling component on every tick.
export function useLive() {
  const [, setCount] = useState(0);
  useEffect(() => {
    const listener = () => setCount((n) => n + 1);
    listeners.add(listener);
    return () => listeners.delete(listener);
  }, []);
  return live;
}
