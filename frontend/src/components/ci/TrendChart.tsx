/**
 * A small inline-SVG trend of the Run Score and the duration of the listed
 * runs (oldest left). The numbers are also in the accessible label, so the
 * chart is never the only place they appear.
 */
import type { RunSummary } from '../../api/types.js';
import { formatDuration, formatScore } from '../../lib/format.js';

const W = 240;
const H = 48;

function points(values: Array<number | null>, max: number): Array<[number, number]> {
  const n = values.length;
  const pts: Array<[number, number]> = [];
  values.forEach((v, i) => {
    if (v === null) return;
    const x = n === 1 ? W / 2 : (i / (n - 1)) * (W - 8) + 4;
    const y = H - 4 - (Math.max(0, v) / (max || 1)) * (H - 8);
    pts.push([x, y]);
  });
  return pts;
}

/** A line through the points, with a dot on the newest (so a single run still shows). */
function Series({ values, max, className }: { values: Array<number | null>; max: number; className: string }) {
  const pts = points(values, max);
  const last = pts[pts.length - 1];
  return (
    <>
      <polyline points={pts.map(([x, y]) => `${x.toFixed(1)},${y.toFixed(1)}`).join(' ')} className={className} fill="none" />
      {last ? <circle cx={last[0]} cy={last[1]} r={2.5} className={`${className}-dot`} /> : null}
    </>
  );
}

export function TrendChart({ runs, limit = 30 }: { runs: RunSummary[]; limit?: number }) {
  // History is newest first; the chart reads left to right in time.
  const slice = runs.slice(0, limit).reverse();
  const scores = slice.map((r) => r.score);
  const durations = slice.map((r) => r.duration_ms);
  const maxDuration = Math.max(1, ...durations.filter((d): d is number => d !== null));
  const lastScore = [...scores].reverse().find((s) => s !== null) ?? null;
  const lastDuration = [...durations].reverse().find((d) => d !== null) ?? null;
  if (slice.length === 0) return null;
  const label = `Trend over the last ${slice.length} runs: latest score ${formatScore(lastScore)}, latest duration ${formatDuration(lastDuration)}, longest ${formatDuration(maxDuration)}.`;
  return (
    <figure className="trend" data-testid="trend">
      <svg viewBox={`0 0 ${W} ${H}`} width={W} height={H} role="img" aria-label={label} preserveAspectRatio="none">
        <title>{label}</title>
        <line x1="0" y1={H - 4 - 0.8 * (H - 8)} x2={W} y2={H - 4 - 0.8 * (H - 8)} className="trend__threshold" />
        <Series values={durations} max={maxDuration} className="trend__duration" />
        <Series values={scores} max={100} className="trend__score" />
      </svg>
      <figcaption className="trend__legend">
        <span className="legend legend--score">score</span> <span className="legend legend--duration">duration</span>
      </figcaption>
    </figure>
  );
}
