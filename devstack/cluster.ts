import { request as httpsRequest } from "node:https";
import { request as httpRequest } from "node:http";
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { CoreV1Api, type KubeConfig } from "@kubernetes/client-node";
import type { Pki } from "./pki.js";
import { createKwokNodes, isNodeSchedulable, KWOK_NODE_ANNOTATION, kwokNodes } from "./gpu-nodes.js";
import { kwokStagesYaml } from "./kwok-stages.js";
import { freePort, startProcess, waitUntil, type Managed } from "./processes.js";

export interface Cluster {
  /** Names of the fake nodes (GPU and system), all Ready. */
  nodes: string[];
  stop(): Promise<void>;
}

export interface ClusterOptions {
  binDir: string;
  /** Temp dir for logs, certs and kwok's config. */
  dir: string;
  kubeconfigPath: string;
  pki: Pki;
  kc: KubeConfig;
  /** Also run the HPA controller, syncing every this many seconds (its default is 15). */
  hpaSyncPeriodSeconds?: number;
}

/**
 * What turns the bare apiserver into a cluster the operator's Deployments can run on:
 * kube-controller-manager (Deployments → ReplicaSets → Pods, Jobs, service accounts and the
 * CA ConfigMap their tokens come with, namespace deletion, garbage collection, node lifecycle),
 * kube-scheduler (binds Pods to nodes by selectors, taints and `nvidia.com/gpu`), and KWOK
 * keeping the fake nodes (gpu-nodes.ts: the GPU nodes and one system node) Ready. No kubelet:
 * pods bound to those nodes are run by the pod runner (pod-runner.ts). With `hpaSyncPeriodSeconds`,
 * also the HPA controller (bench:autoscale's KEDA).
 */
export async function startCluster(opts: ClusterOptions): Promise<Cluster> {
  const { binDir, dir, kubeconfigPath, pki } = opts;
  await mkdir(join(dir, "kcm-certs"), { recursive: true });
  await mkdir(join(dir, "scheduler-certs"), { recursive: true });
  const kwokConfig = join(dir, "kwok.yaml");
  await writeFile(kwokConfig, kwokStagesYaml);
  const controllers = "deployment,replicaset,job,garbagecollector,serviceaccount,serviceaccount-token,root-ca-cert-publisher,namespace,nodelifecycle,podgc";
  const hpa = opts.hpaSyncPeriodSeconds === undefined ? [] : [`--horizontal-pod-autoscaler-sync-period=${opts.hpaSyncPeriodSeconds}s`];
  const [kcmPort, schedulerPort, kwokPort] = await Promise.all([freePort(), freePort(), freePort()]);
  const started: Managed[] = [];
  const stop = async () => {
    for (const p of started.reverse()) await p.stop();
  };
  const start = (name: string, args: string[]) => {
    const proc = startProcess({ name, command: join(binDir, name), args, logPath: join(dir, `${name}.log`) });
    started.push(proc);
    return proc;
  };
  try {
    const kcm = start("kube-controller-manager", [
      `--kubeconfig=${kubeconfigPath}`, "--leader-elect=false",
      `--controllers=${controllers}${hpa.length ? ",horizontalpodautoscaling" : ""}`, ...hpa,
      `--service-account-private-key-file=${pki.serviceAccountKey}`, `--root-ca-file=${pki.caCert}`,
      "--bind-address=127.0.0.1", `--secure-port=${kcmPort}`, `--cert-dir=${join(dir, "kcm-certs")}`,
      // Fake nodes have no kubelet to evict from; a missed heartbeat must not empty them.
      "--node-eviction-rate=0", "--secondary-node-eviction-rate=0", "--profiling=false", "--v=1",
    ]);
    const scheduler = start("kube-scheduler", [
      `--kubeconfig=${kubeconfigPath}`, "--leader-elect=false",
      "--bind-address=127.0.0.1", `--secure-port=${schedulerPort}`, `--cert-dir=${join(dir, "scheduler-certs")}`,
      "--profiling=false", "--v=1",
    ]);
    const kwok = start("kwok", [
      `--kubeconfig=${kubeconfigPath}`, `--config=${kwokConfig}`,
      `--manage-nodes-with-annotation-selector=${KWOK_NODE_ANNOTATION.key}=${KWOK_NODE_ANNOTATION.value}`,
      `--server-address=127.0.0.1:${kwokPort}`, "--node-lease-duration-seconds=40", "--cidr=10.244.0.0/16",
    ]);
    const healthy = (url: string) => async () => (await getStatus(url)) === 200;
    await Promise.all([
      waitUntil("kube-controller-manager /healthz", healthy(`https://127.0.0.1:${kcmPort}/healthz`), { timeoutMs: 60_000, process: kcm }),
      waitUntil("kube-scheduler /healthz", healthy(`https://127.0.0.1:${schedulerPort}/healthz`), { timeoutMs: 60_000, process: scheduler }),
      waitUntil("kwok /healthz", healthy(`http://127.0.0.1:${kwokPort}/healthz`), { timeoutMs: 60_000, process: kwok }),
    ]);
    const core = opts.kc.makeApiClient(CoreV1Api);
    await createKwokNodes(core);
    const names = kwokNodes();
    await waitUntil("the fake nodes to be Ready", async () => {
      const ready = await Promise.all(names.map(async (name) => isNodeSchedulable(await core.readNode({ name }))));
      return ready.every(Boolean);
    }, { timeoutMs: 60_000, process: kwok });
    return { nodes: names, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

/** The status code of a GET; the components serve /healthz to anyone, on self-signed certs. */
function getStatus(url: string): Promise<number> {
  const request = url.startsWith("https:") ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const req = request(url, { rejectUnauthorized: false, timeout: 5000 }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on("timeout", () => req.destroy(new Error(`timeout: ${url}`)));
    req.on("error", reject);
    req.end();
  });
}
