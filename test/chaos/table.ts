/** One line of the chaos table: how every job of one fault ended. */
export interface ChaosRow {
  fault: string;
  jobs: number;
  succeeded: number;
  /** Failed, with a reason in status.reason. */
  failed: number;
  /** Deleted on purpose by the case before they finished, and shown canceled by the API, with no output. */
  canceled: number;
  /** Accepted (202) but unknown to the apiserver and the API, or Succeeded without its output object. */
  lost: number;
  /** Jobs with more than one output object, or a failed job with any. */
  duplicated: number;
  /** Not finished when the case stopped waiting. */
  stuck: number;
  /** Finished otherwise: Failed without a reason, Canceled without the case deleting it. */
  unexplained: number;
  /** What the case saw besides the counts (attempts, gaps, readiness). */
  notes: string[];
  /** Broken invariants other than the counts: a queue state that disagrees, a mirror behind, a crash. */
  anomalies: string[];
}

declare module "vitest" {
  interface TaskMeta {
    chaos?: ChaosRow;
  }
}

const COLUMNS = ["fault", "jobs", "succeeded", "failed with reason", "canceled", "lost", "duplicated", "stuck", "seconds", "result"] as const;

/** A case's label: its row's, or for a case that never counted its jobs the test name up to its colon. */
const label = (row: ChaosRow | undefined, name: string) => row?.fault ?? name.split(":")[0]!;

/** The table `npm run test:chaos` ends with (`ms`: how long the case took); a case that never got to count its jobs shows dashes. */
export function formatTable(rows: Array<{ row?: ChaosRow; name: string; result: string; ms?: number }>): string {
  const cells = rows.map(({ row, name, result, ms }) => {
    const n = (v: number | undefined) => (v === undefined ? "-" : String(v));
    const seconds = ms === undefined ? "-" : String(Math.round(ms / 1000));
    return [label(row, name), n(row?.jobs), n(row?.succeeded), n(row?.failed), n(row?.canceled), n(row?.lost), n(row?.duplicated), n(row?.stuck), seconds, result];
  });
  const widths = COLUMNS.map((c, i) => Math.max(c.length, ...cells.map((r) => r[i]!.length)));
  const line = (r: readonly string[]) => r.map((c, i) => (i === 0 || i === r.length - 1 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join("  ").trimEnd();
  const out = [line(COLUMNS), line(widths.map((w) => "-".repeat(w))), ...cells.map(line)];
  for (const { row, name } of rows) {
    const extra = [...(row?.unexplained ? [`${row.unexplained} finished without a reason`] : []), ...(row?.anomalies ?? []).map((a) => `ANOMALY ${a}`), ...(row?.notes ?? [])];
    if (extra.length) out.push("", `${label(row, name)}:`, ...extra.map((e) => `  - ${e}`));
  }
  return out.join("\n");
}
