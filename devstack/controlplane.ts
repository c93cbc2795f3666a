import { mkdir, readFile } from "node:fs/promises";
import { request } from "node:https";
import { join } from "node:path";
import { FRONT_PROXY_CLIENT, makeFrontProxyPki, makePki, type Pki } from "./pki.js";
import { writeKubeconfig } from "./kubeconfig.js";
import { freePort, startProcess, waitUntil, type Managed } from "./processes.js";

export interface ControlPlane {
  server: string;
  kubeconfigPath: string;
  version: string;
  /** The CA, service-account keys and admin token (kube-controller-manager needs the first two). */
  pki: Pki;
  stop(): Promise<void>;
  /** Stops kube-apiserver (etcd and its data stay), runs `whileDown`, starts it again on the same port. */
  restartApiserver: (whileDown?: () => Promise<void>) => Promise<void>;
}

export interface ControlPlaneOptions {
  /**
   * Open the aggregation layer to extension apiservers (an external metrics adapter such as
   * KEDA's, bench:autoscale): front-proxy certs and request-header flags, and routing to a
   * Service's endpoints, there being no kube-proxy for its cluster IP.
   */
  aggregation?: boolean;
}

/**
 * etcd and kube-apiserver, built by hack/build-controlplane.sh, on free loopback ports in `dir`:
 * the envtest arrangement (no kubelet, no controllers), enough for CRDs, watches and RBAC.
 */
export async function startControlPlane(binDir: string, dir: string, kubeconfigPath: string, opts: ControlPlaneOptions = {}): Promise<ControlPlane> {
  await mkdir(join(dir, "pki"), { recursive: true });
  const [pki, clientPort, peerPort, apiPort] = await Promise.all([makePki(join(dir, "pki")), freePort(), freePort(), freePort()]);
  const aggregationFlags = opts.aggregation ? await frontProxyFlags(join(dir, "pki")) : [];
  const started: Managed[] = [];
  const stop = async () => {
    for (const p of started.reverse()) await p.stop();
  };
  try {
    const etcdUrl = `http://127.0.0.1:${clientPort}`;
    const etcd = startProcess({
      name: "etcd",
      command: join(binDir, "etcd"),
      logPath: join(dir, "etcd.log"),
      args: [
        "--name=pixelmill", `--data-dir=${join(dir, "etcd")}`,
        `--listen-client-urls=${etcdUrl}`, `--advertise-client-urls=${etcdUrl}`,
        `--listen-peer-urls=http://127.0.0.1:${peerPort}`, `--initial-advertise-peer-urls=http://127.0.0.1:${peerPort}`,
        `--initial-cluster=pixelmill=http://127.0.0.1:${peerPort}`,
        // Throwaway data: skip fsync, which dominates etcd's write latency on small disks.
        "--unsafe-no-fsync", "--log-level=warn",
      ],
    });
    started.push(etcd);
    const server = `https://127.0.0.1:${apiPort}`;
    const startApiserver = () => startProcess({
      name: "kube-apiserver",
      command: join(binDir, "kube-apiserver"),
      logPath: join(dir, "kube-apiserver.log"),
      args: [
        `--etcd-servers=${etcdUrl}`,
        "--bind-address=127.0.0.1", "--advertise-address=127.0.0.1", `--secure-port=${apiPort}`,
        `--cert-dir=${join(dir, "pki")}`, `--tls-cert-file=${pki.servingCert}`, `--tls-private-key-file=${pki.servingKey}`,
        `--client-ca-file=${pki.caCert}`, `--token-auth-file=${pki.tokenFile}`, "--authorization-mode=RBAC",
        "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
        `--service-account-key-file=${pki.serviceAccountPub}`, `--service-account-signing-key-file=${pki.serviceAccountKey}`,
        "--service-cluster-ip-range=10.96.0.0/16", "--allow-privileged=true", "--profiling=false", "--v=1",
        ...aggregationFlags,
      ],
    });
    let apiserver = startApiserver();
    started.push(apiserver);
    const ca = await readFile(pki.caCert);
    const get = (path: string) => getText(server + path, ca, pki.adminToken);
    const ready = (proc: Managed) => waitUntil("kube-apiserver /readyz", async () => (await get("/readyz")).status === 200, { timeoutMs: 90_000, process: proc });
    await ready(apiserver);
    const version = (JSON.parse((await get("/version")).body) as { gitVersion: string }).gitVersion;
    await writeKubeconfig(kubeconfigPath, server, pki.caCert, pki.adminToken);
    const restartApiserver = async (whileDown?: () => Promise<void>) => {
      await apiserver.stop();
      try {
        await whileDown?.();
      } finally {
        const next = startApiserver();
        started[started.indexOf(apiserver)] = next;
        apiserver = next;
        await ready(next);
      }
    };
    return { server, kubeconfigPath, version, pki, stop, restartApiserver };
  } catch (err) {
    await stop();
    throw err;
  }
}

async function frontProxyFlags(dir: string): Promise<string[]> {
  const frontProxy = await makeFrontProxyPki(dir);
  return [
    `--requestheader-client-ca-file=${frontProxy.caCert}`, `--requestheader-allowed-names=${FRONT_PROXY_CLIENT}`,
    "--requestheader-username-headers=X-Remote-User", "--requestheader-group-headers=X-Remote-Group",
    "--requestheader-extra-headers-prefix=X-Remote-Extra-",
    `--proxy-client-cert-file=${frontProxy.clientCert}`, `--proxy-client-key-file=${frontProxy.clientKey}`,
    "--enable-aggregator-routing=true",
  ];
}

export function getText(url: string, ca: Buffer, token: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { ca, headers: { authorization: `Bearer ${token}` }, timeout: 5000 }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (chunk: string) => (body += chunk));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on("timeout", () => req.destroy(new Error(`timeout: ${url}`)));
    req.on("error", reject);
    req.end();
  });
}
