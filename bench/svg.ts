/** A tiny SVG line-chart writer (no dependency): panels of series on a log2 x axis. */

export interface Series {
  label: string;
  points: [number, number][];
  dashed?: boolean;
  /** Index into the palette; series that belong together (one op, two stacks) share one. */
  colour?: number;
}

export interface Panel {
  title: string;
  xLabel: string;
  yLabel: string;
  series: Series[];
}

const COLOURS = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#e377c2', '#17becf'];
const W = 420;
const PLOT_H = 250;
const LEGEND_ROW = 15;
const M = { left: 58, right: 14, top: 30, bottom: 48 };

/** Panel height: the plot plus one legend row per two series. */
const heightOf = (p: Panel) => PLOT_H + Math.ceil(p.series.length / 2) * LEGEND_ROW + 8;

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/** 1, 2, 5 × 10^k ticks covering [0, max]. */
function niceTicks(max: number): number[] {
  if (!(max > 0)) return [0, 1];
  const raw = max / 5;
  const pow = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * pow).find((s) => s >= raw)!;
  const ticks: number[] = [];
  for (let v = 0; v <= max + step * 0.001; v += step) ticks.push(Number(v.toPrecision(6)));
  if (ticks.at(-1)! < max) ticks.push(Number((ticks.at(-1)! + step).toPrecision(6)));
  return ticks;
}

function fmt(v: number): string {
  return v >= 1000 ? `${Number((v / 1000).toPrecision(3))}k` : String(Number(v.toPrecision(3)));
}

function panel(p: Panel, H: number): string {
  const xs = [...new Set(p.series.flatMap((s) => s.points.map(([x]) => x)))].sort((a, b) => a - b);
  const yTicks = niceTicks(Math.max(...p.series.flatMap((s) => s.points.map(([, y]) => y)), 0));
  const yMax = yTicks.at(-1)!;
  const lx = (x: number) => Math.log2(x);
  const [x0, x1] = [lx(xs[0] ?? 1), lx(xs.at(-1) ?? 2)];
  const px = (x: number) => M.left + ((lx(x) - x0) / (x1 - x0 || 1)) * (W - M.left - M.right);
  const bottom = PLOT_H - M.bottom; // the x axis
  const py = (y: number) => bottom - (y / yMax) * (bottom - M.top);
  const parts: string[] = [];
  parts.push(`<text x="${W / 2}" y="18" text-anchor="middle" font-weight="bold">${esc(p.title)}</text>`);
  for (const t of yTicks) {
    parts.push(`<line x1="${M.left}" x2="${W - M.right}" y1="${py(t)}" y2="${py(t)}" stroke="#ddd"/>`);
    parts.push(`<text x="${M.left - 6}" y="${py(t) + 4}" text-anchor="end">${fmt(t)}</text>`);
  }
  for (const x of xs) parts.push(`<text x="${px(x)}" y="${bottom + 16}" text-anchor="middle">${x}</text>`);
  parts.push(`<line x1="${M.left}" x2="${W - M.right}" y1="${bottom}" y2="${bottom}" stroke="#333"/>`);
  parts.push(`<line x1="${M.left}" x2="${M.left}" y1="${M.top}" y2="${bottom}" stroke="#333"/>`);
  parts.push(`<text x="${(M.left + W - M.right) / 2}" y="${bottom + 32}" text-anchor="middle">${esc(p.xLabel)}</text>`);
  parts.push(`<text transform="translate(14 ${(M.top + bottom) / 2}) rotate(-90)" text-anchor="middle">${esc(p.yLabel)}</text>`);
  void H;
  p.series.forEach((s, i) => {
    const colour = COLOURS[(s.colour ?? i) % COLOURS.length];
    const pts = [...s.points].sort((a, b) => a[0] - b[0]);
    const d = pts.map(([x, y], j) => `${j ? 'L' : 'M'}${px(x).toFixed(1)},${py(y).toFixed(1)}`).join(' ');
    parts.push(`<path d="${d}" fill="none" stroke="${colour}" stroke-width="2"${s.dashed ? ' stroke-dasharray="6 4"' : ''}/>`);
    for (const [x, y] of pts) parts.push(`<circle cx="${px(x).toFixed(1)}" cy="${py(y).toFixed(1)}" r="3" fill="${colour}"/>`);
    const col = i % 2;
    const row = Math.floor(i / 2);
    const lxp = M.left + col * 180;
    const lyp = PLOT_H + 4 + row * LEGEND_ROW;
    parts.push(`<line x1="${lxp}" x2="${lxp + 20}" y1="${lyp - 4}" y2="${lyp - 4}" stroke="${colour}" stroke-width="2"${s.dashed ? ' stroke-dasharray="6 4"' : ''}/>`);
    parts.push(`<text x="${lxp + 25}" y="${lyp}">${esc(s.label)}</text>`);
  });
  return parts.join('\n');
}

/** Panels laid out `columns` wide in one SVG document. */
export function chart(panels: Panel[], columns = 2): string {
  const H = Math.max(...panels.map(heightOf));
  const rows = Math.ceil(panels.length / columns);
  const width = W * Math.min(columns, panels.length);
  const height = H * rows;
  const body = panels
    .map((p, i) => `<g transform="translate(${(i % columns) * W} ${Math.floor(i / columns) * H})">\n${panel(p, H)}\n</g>`)
    .join('\n');
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="11">\n<rect width="100%" height="100%" fill="white"/>\n${body}\n</svg>\n`;
}
