import { mkdtemp, rm, mkdir } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { KubeConfig, VersionApi } from "@kubernetes/client-node";
import { controlPlaneBinaries, projectRoot } from "./binaries.js";
import { startCluster } from "./cluster.js";
import { startControlPlane } from "./controlplane.js";
import { installCrds } from "./crds.js";
import { providePostgres, redact, type Service } from "./postgres.js";
import { provideRedis } from "./redis.js";
import { startS3, type S3Service } from "./s3.js";

export interface Stack {
  dir: string;
  kubeconfigPath: string;
  apiserverVersion: string;
  postgres: Service;
  redis: Service;
  s3?: S3Service;
  /** Only when the stack started kube-apiserver: restarts it, etcd kept (the chaos suite's faults). */
  restartApiserver?: (whileDown?: () => Promise<void>) => Promise<void>;
  stop(): Promise<void>;
}

export interface StackOptions {
  /** Where the kubeconfig goes (default: inside the temp dir). */
  kubeconfigPath?: string;
  /** Start the S3 server (tests need it; `npm run dev` uses file storage unless asked). */
  s3?: boolean;
  /** Always start private Postgres and Redis, which can then be restarted (default: PIXELMILL_OWN_SERVICES=1). */
  ownServices?: boolean;
  /**
   * Serve HorizontalPodAutoscalers: the HPA controller (syncing every `syncPeriodSeconds`, default
   * 15 as in kube-controller-manager) and the apiserver's aggregation layer open to a metrics
   * adapter (bench:autoscale runs KEDA's). Only for a stack that starts its own cluster.
   */
  hpa?: { syncPeriodSeconds?: number };
  log?: (msg: string) => void;
}

/**
 * The real parts, on this machine: kube-apiserver + etcd with the CRDs installed (or the cluster
 * in KUBECONFIG when PIXELMILL_USE_EXISTING_CLUSTER=1), Postgres, Redis and an S3 server.
 * Everything it starts lives in one temp dir and stops with `stop()`.
 */
export async function startStack(opts: StackOptions = {}): Promise<Stack> {
  const log = opts.log ?? (() => {});
  const dir = await mkdtemp(join(tmpdir(), "pixelmill-"));
  const stops: Array<() => Promise<void>> = [];
  const stop = async () => {
    for (const s of stops.reverse()) await s().catch(() => {});
    if (!process.env.PIXELMILL_KEEP_TMP) await rm(dir, { recursive: true, force: true });
  };
  try {
    const needBinaries = opts.s3 || process.env.PIXELMILL_USE_EXISTING_CLUSTER !== "1";
    const binDir = needBinaries ? await controlPlaneBinaries() : "";
    // Start the rest side by side; register every stop before failing on any error.
    const [postgres, redis, cluster, s3] = await settleAll(stops, [
      providePostgres(dir, { own: opts.ownServices }),
      provideRedis(dir, { own: opts.ownServices }),
      provideCluster(binDir, dir, opts.kubeconfigPath ?? join(dir, "kubeconfig"), opts.hpa),
      opts.s3 ? startS3(binDir, dir, "pixelmill") : Promise.resolve(undefined),
    ] as const);
    log(`postgres ${postgres.owned ? "started" : "found"} at ${redact(postgres.url)}; redis ${redis.owned ? "started" : "found"} at ${redis.url}`);
    log(`kube-apiserver ${cluster.version} at ${cluster.server}${s3 ? `; S3 (versitygw) at ${s3.endpoint}` : ""}`);
    const kc = new KubeConfig();
    kc.loadFromFile(cluster.kubeconfigPath);
    const crds = await installCrds(kc, join(projectRoot, "crds"));
    log(`installed CRDs: ${crds.join(", ")}`);
    const restartApiserver = "restartApiserver" in cluster ? cluster.restartApiserver : undefined;
    return { dir, kubeconfigPath: cluster.kubeconfigPath, apiserverVersion: cluster.version, postgres, redis, s3, restartApiserver, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

async function provideCluster(binDir: string, dir: string, kubeconfigPath: string, hpa: StackOptions["hpa"]) {
  if (process.env.PIXELMILL_USE_EXISTING_CLUSTER !== "1") {
    await mkdir(join(dir, "controlplane"), { recursive: true });
    const controlPlane = await startControlPlane(binDir, join(dir, "controlplane"), kubeconfigPath, { aggregation: hpa !== undefined });
    try {
      // Controllers, scheduler and KWOK's fake GPU nodes, once the apiserver answers.
      const kc = new KubeConfig();
      kc.loadFromFile(kubeconfigPath);
      const cluster = await startCluster({ binDir, dir: join(dir, "controlplane"), kubeconfigPath, pki: controlPlane.pki, kc, hpaSyncPeriodSeconds: hpa && (hpa.syncPeriodSeconds ?? 15) });
      return { ...controlPlane, stop: () => cluster.stop().finally(() => controlPlane.stop()) };
    } catch (err) {
      await controlPlane.stop();
      throw err;
    }
  }
  const path = process.env.KUBECONFIG;
  if (!path) throw new Error("PIXELMILL_USE_EXISTING_CLUSTER=1 needs KUBECONFIG to name the cluster's kubeconfig");
  const kc = new KubeConfig();
  kc.loadFromFile(path);
  const version = (await kc.makeApiClient(VersionApi).getCode()).gitVersion;
  return { server: kc.getCurrentCluster()?.server ?? "?", kubeconfigPath: path, version, stop: async () => {} };
}

type Stoppable = { stop(): Promise<void> } | undefined;

async function settleAll<T extends readonly Promise<Stoppable>[]>(stops: Array<() => Promise<void>>, promises: T): Promise<{ -readonly [K in keyof T]: Awaited<T[K]> }> {
  const results = await Promise.allSettled(promises);
  for (const r of results) if (r.status === "fulfilled" && r.value) stops.push(r.value.stop.bind(r.value));
  const failed = results.find((r) => r.status === "rejected");
  if (failed) throw failed.reason;
  return results.map((r) => (r as PromiseFulfilledResult<Stoppable>).value) as { -readonly [K in keyof T]: Awaited<T[K]> };
}
