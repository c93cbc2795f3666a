import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { fileURLToPath } from "node:url";

const run = promisify(execFile);
export const projectRoot = fileURLToPath(new URL("..", import.meta.url));

/**
 * The folder holding etcd, kube-apiserver, kube-controller-manager, kube-scheduler, kwok and
 * versitygw: hack/build-controlplane.sh returns the cached build at once, or builds it (minutes,
 * once per pinned version) and says so on stderr.
 */
export async function controlPlaneBinaries(): Promise<string> {
  return buildScript("build-controlplane.sh");
}

/** The helm binary: hack/build-helm.sh returns the cached build at once, or builds it (minutes, once per pinned version). */
export async function helmBinary(): Promise<string> {
  return buildScript("build-helm.sh");
}

/**
 * The folder holding KEDA's operator (`keda`), metrics adapter (`keda-adapter`) and CRDs (`crds/`),
 * for bench:autoscale: hack/build-keda.sh returns the cached build at once, or builds it (long:
 * KEDA links every scaler's SDK).
 */
export async function kedaBinaries(): Promise<string> {
  return buildScript("build-keda.sh");
}

/** Runs a hack/ build script (progress on stderr) and returns the last line it prints: what it built. */
async function buildScript(script: string): Promise<string> {
  const child = run("bash", [`${projectRoot}/hack/${script}`], { maxBuffer: 1 << 20 });
  child.child.stderr?.pipe(process.stderr);
  const { stdout } = await child;
  return stdout.trim().split("\n").pop()!;
}
