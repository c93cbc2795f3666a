import { execFile, spawn } from "node:child_process";
import { join } from "node:path";
import { promisify } from "node:util";
import { parseAllDocuments } from "yaml";
import type { KubernetesObject, V1PodSpec } from "@kubernetes/client-node";
import { helmBinary, projectRoot } from "../../devstack/binaries.js";

const exec = promisify(execFile);
export const chartDir = join(projectRoot, "charts/pixelmill");
export const productionValues = join(chartDir, "values-production.yaml");

export interface Rendered extends KubernetesObject {
  spec?: Record<string, unknown>;
  data?: Record<string, string>;
  stringData?: Record<string, string>;
  rules?: Array<{ apiGroups?: string[]; resources?: string[]; resourceNames?: string[]; verbs: string[] }>;
}

/** Runs the pinned helm (hack/build-helm.sh); rejects with helm's stderr when it fails. */
export async function helm(args: string[], env: NodeJS.ProcessEnv = {}): Promise<string> {
  const bin = await helmBinary();
  try {
    return (await exec(bin, args, { maxBuffer: 32 << 20, env: { ...process.env, HELM_CACHE_HOME: "/tmp/pixelmill-helm/cache", HELM_CONFIG_HOME: "/tmp/pixelmill-helm/config", HELM_DATA_HOME: "/tmp/pixelmill-helm/data", ...env } })).stdout;
  } catch (err) {
    const { stderr, message } = err as { stderr?: string; message: string };
    throw new Error(stderr?.trim() || message, { cause: err });
  }
}

/** `helm template` of the chart with these values files and --set flags, as the manifest text. */
export async function template(opts: { namespace?: string; values?: string[]; set?: string[] } = {}): Promise<string> {
  const args = ["template", "pixelmill", chartDir, "--namespace", opts.namespace ?? "pixelmill"];
  for (const f of opts.values ?? []) args.push("--values", f);
  for (const s of opts.set ?? []) args.push("--set", s);
  return helm(args);
}

/** The objects of a rendered manifest. */
export function parse(manifest: string): Rendered[] {
  return parseAllDocuments(manifest).map((d) => d.toJS() as Rendered).filter((o) => o?.kind);
}

export async function render(opts: Parameters<typeof template>[0] = {}): Promise<Rendered[]> {
  return parse(await template(opts));
}

/** The pod spec of a Deployment or Job. */
export function podSpecOf(o: Rendered): V1PodSpec | undefined {
  if (o.kind !== "Deployment" && o.kind !== "Job") return undefined;
  return (o.spec as { template: { spec: V1PodSpec } }).template.spec;
}

export function component(o: KubernetesObject): string | undefined {
  return o.metadata?.labels?.["app.kubernetes.io/component"];
}

/** Runs a command with `input` on stdin; resolves with its output, rejects with it on failure. */
export function pipe(command: string, args: string[], input: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ["pipe", "pipe", "pipe"] });
    let out = "";
    child.stdout.on("data", (d: Buffer) => (out += d.toString()));
    child.stderr.on("data", (d: Buffer) => (out += d.toString()));
    child.on("error", reject);
    child.on("close", (code) => (code === 0 ? resolve(out) : reject(new Error(`${command} exited ${code}:\n${out}`))));
    child.stdin.end(input);
  });
}
