// The dashboard's shell: sign-in, navigation (links and keys 1-5), and the page shown.
import { html, render, useEffect, useState } from "./vendor/htm-preact.mjs";
import { post, Refused, signIn, startLive, useLive } from "./api.js";
import { Config } from "./config.js";
import { Overview } from "./overview.js";
import { Providers } from "./providers.js";
import { Requests } from "./requests.js";
import { Usage } from "./usage.js";

const PAGES = [
  ["overview", "Overview", Overview], ["providers", "Providers", Providers],
  ["requests", "Requests", Requests], ["usage", "Usage", Usage], ["config", "Config", Config],
];

function route() {
  const [, page, id] = /^#\/([a-z]+)(?:\/(.+))?$/.exec(location.hash) || [];
  return { page: PAGES.some(([name]) => name === page) ? page : "overview", id: id && decodeURIComponent(id) };
}

function Shell({ info }) {
  const [where, setWhere] = useState(route());
  const live = useLive();
  useEffect(() => {
    const moved = () => setWhere(route());
    const key = (event) => {
      const target = event.target;
      if (event.altKey || event.ctrlKey || event.metaKey || /^(INPUT|SELECT|TEXTAREA)$/.test(target.tagName)) return;
      const index = "12345".indexOf(event.key);
      if (index >= 0) location.hash = `#/${PAGES[index][0]}`;
    };
    addEventListener("hashchange", moved);
    addEventListener("keydown", key);
    return () => { removeEventListener("hashchange", moved); removeEventListener("keydown", key); };
  }, []);
  useEffect(() => { document.title = `llmp · ${where.page}`; }, [where.page]);
  const Page = PAGES.find(([name]) => name === where.page)[2];
  return html`
    <header>
      <span class="brand">llmp</span>
      <nav aria-label="pages">${PAGES.map(([name, label], i) => html`
        <a href=${`#/${name}`} aria-current=${where.page === name ? "page" : null}
          aria-keyshortcuts=${String(i + 1)}>${label}<kbd>${i + 1}</kbd></a>`)}</nav>
      <span class="meta" data-testid="connection">${live.connected ? "live" : "connecting…"} · v${info.version}</span>
      <button onClick=${signOut}>Sign out</button>
    </header>
    <main id="main"><${Page} id=${where.id} /></main>`;
}

async function signOut() {
  await post("/ui/api/session/end").catch(() => null);
  location.hash = "";
  location.reload();
}

function Refusal({ message }) {
  return html`<div class="refused" role="alert"><h1>Not signed in</h1>
    <p>${message}</p><p>Run <code>llmp ui</code> in a terminal to open the dashboard.</p></div>`;
}

async function start() {
  const root = document.getElementById("app");
  let info;
  try {
    info = await signIn();
  } catch (error) {
    render(html`<${Refusal} message=${error instanceof Refused ? error.message : String(error.message)} />`, root);
    return;
  }
  root.textContent = "";
  render(html`<${Shell} info=${info} />`, root);
  await startLive();
}

start();
