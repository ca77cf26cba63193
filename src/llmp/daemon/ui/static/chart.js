// A live time-series chart (uPlot, a canvas: cheap to redraw every second).
import { html, useEffect, useRef } from "./vendor/htm-preact.mjs";

const css = (name) => getComputedStyle(document.documentElement).getPropertyValue(name).trim();
const HEIGHT = 150;

// The x axis is always the last hour up to now; the y axis starts at 0 and is at least `floor` high.
function options(width, lines, unit, floor) {
  const grid = { stroke: css("--grid"), width: 1 };
  const axis = { stroke: css("--muted"), grid, ticks: grid };
  const colors = [css("--chart1"), css("--chart2"), css("--chart3")];
  return {
    width, height: HEIGHT, legend: { show: false }, cursor: { drag: { x: false, y: false } },
    scales: {
      x: { time: true, range: () => { const now = Date.now() / 1000; return [now - 3600, now]; } },
      y: { range: (u, min, max) => [0, Math.max((max || 0) * 1.15, floor)] },
    },
    axes: [axis, { ...axis, size: 56, values: (u, ticks) => ticks.map((v) => `${+v.toFixed(3)}${unit}`) }],
    series: [{}, ...lines.map((line, i) => ({ label: line.label, stroke: colors[i], width: 1.6,
      spanGaps: true }))],
  };
}

// `lines`: [{label, key, scale}] read from `series` (columns of numbers by name, `t` the times).
export function Chart({ title, series, lines, unit = "", floor = 1 }) {
  const box = useRef(null);
  const plot = useRef(null);
  const data = () => [series.t, ...lines.map((line) => series[line.key].map(
    (v) => v == null ? null : v * (line.scale ?? 1)))];
  useEffect(() => {
    const element = box.current;
    if (!window.uPlot || !element) return undefined;
    plot.current = new window.uPlot(options(element.clientWidth || 300, lines, unit, floor), data(), element);
    const resize = new ResizeObserver(() => plot.current.setSize({ width: element.clientWidth, height: HEIGHT }));
    resize.observe(element);
    const scheme = matchMedia("(prefers-color-scheme: dark)");
    const redraw = () => { plot.current.destroy(); plot.current = new window.uPlot(
      options(element.clientWidth || 300, lines, unit, floor), data(), element); };
    scheme.addEventListener("change", redraw);
    return () => { resize.disconnect(); scheme.removeEventListener("change", redraw); plot.current.destroy(); };
  }, []);
  useEffect(() => { if (plot.current) plot.current.setData(data()); });
  const last = (key) => { const values = series[key]; return values.length ? values[values.length - 1] : null; };
  return html`<figure class="chart" aria-label=${title}>
    <h3>${title} ${lines.map((line, i) => html`<span class=${`key key${i + 1}`}>${line.label}</span>`)}</h3>
    <div ref=${box}></div>
    <figcaption class="sr">${lines.map((line) => `${line.label}: ${last(line.key) ?? "no data"}`).join(", ")}</figcaption>
  </figure>`;
}
