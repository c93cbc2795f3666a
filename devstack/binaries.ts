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
  const child = run("bash", [`${projectRoot}/hack/build-controlplane.sh`], { maxBuffer: 1 << 20 });
  child.child.stderr?.pipe(process.stderr);
  const { stdout } = await child;
  return stdout.trim().split("\n").pop()!;
}
