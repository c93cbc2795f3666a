import type { PoolSample } from "../api/types.js";

/** The series drawn, each with its own colour and dash (so they differ without colour too). */
const SERIES = [
  { key: "desired", label: "Desired", className: "series-desired", dash: "" },
  { key: "ready", label: "Ready", className: "series-ready", dash: "6 3" },
  { key: "waiting", label: "Waiting", className: "series-waiting", dash: "2 3" },
  { key: "in_flight", label: "In flight", className: "series-inflight", dash: "8 3 2 3" },
] as const;

const W = 480;
const H = 160;
const PAD = { left: 32, right: 8, top: 8, bottom: 20 };

/**
 * A pool's last hour as lines (desired and ready replicas, jobs waiting and in flight): a few
 * dozen points, drawn by hand in SVG, with a title and a description that says the numbers.
 */
export function LineChart({ id, name, samples }: { id: string; name: string; samples: readonly PoolSample[] }) {
  if (samples.length === 0) return <p className="muted">No samples in the last hour yet.</p>;
  const end = Date.parse(samples[samples.length - 1]!.at);
  const start = Math.min(Date.parse(samples[0]!.at), end - 60 * 60 * 1000);
  const top = Math.max(1, ...samples.flatMap((s) => SERIES.map((series) => s[series.key])));
  const x = (at: string) => PAD.left + ((Date.parse(at) - start) / Math.max(1, end - start)) * (W - PAD.left - PAD.right);
  const y = (v: number) => PAD.top + (1 - v / top) * (H - PAD.top - PAD.bottom);
  const last = samples[samples.length - 1]!;
  const description = `Over the last hour, at most ${top}. Now: ${SERIES.map((s) => `${s.label.toLowerCase()} ${last[s.key]}`).join(", ")}.`;
  return (
    <figure className="chart">
      <svg viewBox={`0 0 ${W} ${H}`} role="img" aria-labelledby={`${id}-title ${id}-desc`}>
        <title id={`${id}-title`}>{`${name}: replicas and jobs, last hour`}</title>
        <desc id={`${id}-desc`}>{description}</desc>
        <line className="axis" x1={PAD.left} x2={W - PAD.right} y1={y(0)} y2={y(0)} />
        <line className="grid" x1={PAD.left} x2={W - PAD.right} y1={y(top)} y2={y(top)} />
        <text className="tick" x={PAD.left - 4} y={y(top) + 4} textAnchor="end">{top}</text>
        <text className="tick" x={PAD.left - 4} y={y(0) + 4} textAnchor="end">0</text>
        <text className="tick" x={PAD.left} y={H - 4}>−60 min</text>
        <text className="tick" x={W - PAD.right} y={H - 4} textAnchor="end">now</text>
        {SERIES.map((s) => (
          <polyline key={s.key} className={s.className} fill="none" strokeWidth={2} strokeDasharray={s.dash || undefined} points={samples.map((p) => `${x(p.at).toFixed(1)},${y(p[s.key]).toFixed(1)}`).join(" ")} />
        ))}
      </svg>
      <figcaption className="legend">
        {SERIES.map((s) => (
          <span key={s.key}><svg width="24" height="8" aria-hidden="true"><line className={s.className} x1="0" x2="24" y1="4" y2="4" strokeWidth={2} strokeDasharray={s.dash || undefined} /></svg> {s.label} {last[s.key]}</span>
        ))}
      </figcaption>
    </figure>
  );
}
