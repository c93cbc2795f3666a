import { useEffect } from "react";
import { useSession } from "../auth/session.js";
import { useTitle } from "../Layout.js";
import { formatTime } from "../ui/format.js";
import { LoadedList } from "../ui/States.js";
import { useLoad } from "../ui/useLoad.js";
import { LineChart } from "./LineChart.js";

/** /admin/pools: each WorkerPool's GPUs, replicas, queue and last hour; read again every 30 s. */
export function Pools() {
  useTitle("Worker pools");
  const { api } = useSession();
  const pools = useLoad(() => api.pools(), "pools");
  const { reload } = pools;
  useEffect(() => {
    const timer = setInterval(reload, 30_000);
    return () => clearInterval(timer);
  }, [reload]);

  return (
    <section aria-labelledby="pools">
      <h1 id="pools">Worker pools</h1>
      <LoadedList list={pools} what="worker pools" empty="No worker pools. Create a WorkerPool resource (see README) to run jobs."
        retry={<button type="button" onClick={reload}>Try again</button>}>{(items) => (
        <div className="pool-grid">
          {items.map((pool, i) => (
            <section key={`${pool.namespace}/${pool.name}`} className="card" aria-labelledby={`pool-${i}`}>
              <h2 id={`pool-${i}`}>{pool.name} <span className="muted">{pool.namespace}</span></h2>
              <dl className="details">
                <dt>GPU</dt><dd>{pool.gpu.count} × {pool.gpu.product ?? "any GPU"}</dd>
                <dt>Replicas</dt><dd>{pool.replicas.desired} desired, {pool.replicas.ready} ready, {pool.replicas.pending} pending (min {pool.replicas.min}, max {pool.replicas.max})</dd>
                <dt>Jobs</dt><dd>{pool.waiting} waiting, {pool.in_flight} in flight</dd>
                <dt>Models</dt><dd className="wrap">{pool.models.join(", ") || "—"}</dd>
                <dt>Last scale</dt><dd>{pool.last_scale_reason ? `${pool.last_scale_reason} (${formatTime(pool.last_scale_time)})` : "—"}</dd>
                {pool.conditions.filter((c) => c.status !== "True" || c.type === "Ready").map((c) => (
                  <div key={c.type} className="contents"><dt>{c.type}</dt><dd>{c.status}{c.reason && ` — ${c.reason}`}{c.message && `: ${c.message}`}</dd></div>
                ))}
              </dl>
              <LineChart id={`chart-${i}`} name={pool.name} samples={pool.history} />
            </section>
          ))}
        </div>
      )}</LoadedList>
    </section>
  );
}
