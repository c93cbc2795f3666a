import { mkdir, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import type { CoreV1Api, KubeConfig, V1Container, V1Pod, V1Volume } from "@kubernetes/client-node";
import { stringify } from "yaml";
import { fieldValue, type EnvSources } from "./pod-env.js";
import { freePort } from "./processes.js";

/**
 * What a kubelet and a container runtime give a container, done for a local process: the
 * program to run (the images' entry points are the project's own files), its ports, its
 * volumes, and its service account's credentials. Pods share this machine's network and
 * filesystem, so ports are remapped to free ones and mounts to folders of the pod's own.
 */

/** The script a container runs: `node dist/<path>.js [args]` (the images' layout) is `<path>.ts` here; worker pods default to the worker image's CMD. */
export function entryPoint(pod: V1Pod, container: V1Container): { script: string; args: string[] } {
  const argv = [...(container.command ?? []), ...(container.args ?? [])];
  if (argv.length === 0 && pod.metadata?.labels?.["app.kubernetes.io/name"] === "pixelmill-worker") return { script: "worker/main.ts", args: [] };
  const compiled = argv[0] === "node" ? /^dist\/([\w/-]+)\.js$/.exec(argv[1] ?? "") : null;
  if (!compiled) throw new Error(`cannot run ${JSON.stringify(argv)}: only \`node dist/<file>.js\` commands of the Pixelmill images`);
  return { script: `${compiled[1]}.ts`, args: argv.slice(2) };
}

/** The ports the processes listen on, and their defaults in common/config.ts. */
const PORT_SETTINGS = { PORT: 8080, HEALTH_PORT: 8081 } as const;

/**
 * Host ports for the container: each port setting (PORT, HEALTH_PORT) gets a free port, so
 * pods never collide; `ports` maps the container's ports (by number, and by name where declared)
 * to the host ports that serve them.
 */
export async function remapPorts(container: V1Container, env: Record<string, string>): Promise<{ env: Record<string, string>; ports: Map<string, number> }> {
  const ports = new Map<string, number>();
  const overrides: Record<string, string> = {};
  for (const [setting, fallback] of Object.entries(PORT_SETTINGS)) {
    const inContainer = Number(env[setting] ?? fallback);
    const host = await freePort();
    overrides[setting] = String(host);
    // A probe may name a port the container does not declare, as on a kubelet.
    ports.set(String(inContainer), host);
    for (const declared of container.ports ?? []) if (declared.containerPort === inContainer && declared.name) ports.set(declared.name, host);
  }
  return { env: { ...env, ...overrides }, ports };
}

/**
 * The container's volumes as folders under `dir`: emptyDir empty; secret, configMap and
 * projected (the service-account token, its CA and namespace) with a file per key or item.
 * Environment values that name a path under a mount point are rewritten to the folder
 * (PIXELMILL_ADMIN_KEY_FILE, MODEL_CACHE_DIR, ...).
 */
export async function mountVolumes(pod: V1Pod, container: V1Container, ctx: VolumeContext, dir: string, env: Record<string, string>): Promise<Record<string, string>> {
  const mounts: Array<{ path: string; host: string }> = [];
  for (const mount of container.volumeMounts ?? []) {
    const volume = pod.spec?.volumes?.find((v) => v.name === mount.name);
    if (!volume) throw new Error(`volume ${mount.name} is not in the pod`);
    const host = join(dir, "volumes", mount.name, mount.subPath ?? "");
    await mkdir(host, { recursive: true });
    for (const source of fileSources(volume)) {
      for (const [file, value] of await filesOf(pod, source, ctx, mount.name)) {
        await mkdir(dirname(join(host, file)), { recursive: true });
        await writeFile(join(host, file), value, { mode: 0o600 });
      }
    }
    mounts.push({ path: mount.mountPath.replace(/\/+$/, ""), host });
  }
  const rewrite = (value: string) => {
    const mount = mounts.find((m) => value === m.path || value.startsWith(`${m.path}/`));
    return mount ? mount.host + value.slice(mount.path.length) : value;
  };
  return Object.fromEntries(Object.entries(env).map(([k, v]) => [k, rewrite(v)]));
}

/** What volumes are made from: the pod's ConfigMaps and Secrets, its service-account token (when it mounts one), its IP. */
export interface VolumeContext {
  sources: EnvSources;
  token?: string;
  podIP: string;
}

type KeyToPath = { key: string; path: string };
/** One source of a volume's files. */
type FileSource =
  | { kind: "Secret" | "ConfigMap"; name: string; items?: KeyToPath[]; optional?: boolean }
  | { kind: "token"; path: string }
  | { kind: "fields"; items: Array<{ path: string; fieldPath: string }> };

function fileSources(volume: V1Volume): FileSource[] {
  if (volume.emptyDir) return [];
  if (volume.secret) return [{ kind: "Secret", name: volume.secret.secretName ?? "", items: volume.secret.items, optional: volume.secret.optional }];
  if (volume.configMap) return [{ kind: "ConfigMap", name: volume.configMap.name ?? "", items: volume.configMap.items, optional: volume.configMap.optional }];
  if (volume.projected) {
    return (volume.projected.sources ?? []).flatMap((p): FileSource[] => {
      if (p.serviceAccountToken) return [{ kind: "token", path: p.serviceAccountToken.path }];
      if (p.secret) return [{ kind: "Secret", name: p.secret.name ?? "", items: p.secret.items, optional: p.secret.optional }];
      if (p.configMap) return [{ kind: "ConfigMap", name: p.configMap.name ?? "", items: p.configMap.items, optional: p.configMap.optional }];
      const fields = (p.downwardAPI?.items ?? []).filter((i) => i.fieldRef).map((i) => ({ path: i.path, fieldPath: i.fieldRef!.fieldPath }));
      if (fields.length) return [{ kind: "fields", items: fields }];
      throw new Error(`volume ${volume.name}: a projected source of a kind that does not run here`);
    });
  }
  throw new Error(`volume ${volume.name}: only emptyDir, secret, configMap and projected volumes run here`);
}

/** The files one source holds: [path, content]. */
async function filesOf(pod: V1Pod, source: FileSource, ctx: VolumeContext, volume: string): Promise<Array<readonly [string, string]>> {
  if (source.kind === "token") {
    if (ctx.token === undefined) throw new Error(`volume ${volume}: the pod mounts no service-account token`);
    return [[source.path, ctx.token]];
  }
  if (source.kind === "fields") return source.items.map((i) => [i.path, fieldValue(pod, i.fieldPath, ctx.podIP)] as const);
  const data = source.kind === "Secret" ? await ctx.sources.secret(source.name) : await ctx.sources.configMap(source.name);
  if (!data && !source.optional) throw new Error(`${source.kind} ${source.name} (volume ${volume}) not found`);
  const files = source.items?.map((i) => [i.path, data?.[i.key]] as const) ?? Object.entries(data ?? {});
  return files.filter((f): f is readonly [string, string] => f[1] !== undefined);
}

/** A bound token for the pod's service account from the TokenRequest API, as the kubelet projects it; undefined when the pod mounts none (automountServiceAccountToken: false). */
export async function serviceAccountToken(core: CoreV1Api, pod: V1Pod): Promise<string | undefined> {
  if (pod.spec?.automountServiceAccountToken === false) return undefined;
  const { name, namespace, uid } = pod.metadata!;
  const { status } = await core.createNamespacedServiceAccountToken({
    name: pod.spec?.serviceAccountName ?? "default",
    namespace: namespace!,
    body: { spec: { audiences: [], expirationSeconds: 3600, boundObjectRef: { apiVersion: "v1", kind: "Pod", name, uid } } },
  });
  return status!.token;
}

/**
 * The pod's service-account credentials (`token`) as a kubeconfig at `path` for the cluster of
 * `kc`: what client-node's in-cluster loading would build from the mounted token.
 */
export async function serviceAccountKubeconfig(kc: KubeConfig, pod: V1Pod, token: string, path: string): Promise<string> {
  const { namespace } = pod.metadata!;
  const user = `system:serviceaccount:${namespace}:${pod.spec?.serviceAccountName ?? "default"}`;
  const cluster = kc.getCurrentCluster()!;
  const config = {
    apiVersion: "v1",
    kind: "Config",
    clusters: [{ name: "in-cluster", cluster: { server: cluster.server, "certificate-authority-data": cluster.caData } }],
    users: [{ name: user, user: { token } }],
    contexts: [{ name: "in-cluster", context: { cluster: "in-cluster", user, namespace } }],
    "current-context": "in-cluster",
  };
  await writeFile(path, stringify(config), { mode: 0o600 });
  return path;
}
