import type { CoreV1Api, V1Container, V1Pod } from "@kubernetes/client-node";

/** Reads ConfigMaps and Secrets of the pod's namespace (Secret values already decoded); undefined when absent. */
export interface EnvSources {
  configMap(name: string): Promise<Record<string, string> | undefined>;
  secret(name: string): Promise<Record<string, string> | undefined>;
}

/** The pod's ConfigMaps and Secrets, read from the apiserver as a kubelet does. */
export function apiEnvSources(core: CoreV1Api, namespace: string): EnvSources {
  const absent = (err: unknown) => {
    if ((err as { code?: number }).code === 404) return undefined;
    throw err;
  };
  return {
    configMap: (name) => core.readNamespacedConfigMap({ name, namespace }).then((cm) => ({ ...cm.data }), absent),
    secret: (name) => core.readNamespacedSecret({ name, namespace }).then(
      (s) => Object.fromEntries(Object.entries(s.data ?? {}).map(([k, v]) => [k, Buffer.from(v, "base64").toString("utf8")])),
      absent,
    ),
  };
}

/** A missing ConfigMap, Secret or key that the container does not mark optional (kubelet: CreateContainerConfigError). */
export class EnvSourceMissing extends Error {}

/**
 * The environment a kubelet would give `container`: `envFrom` first, then `env`, which wins.
 * Supports literal values, fieldRef (name, namespace, uid, node, service account, pod IP,
 * labels and annotations), configMapKeyRef and secretKeyRef. Not `$(VAR)` expansion.
 */
export async function resolveContainerEnv(pod: V1Pod, container: V1Container, sources: EnvSources, podIP: string): Promise<Record<string, string>> {
  const env: Record<string, string> = {};
  for (const from of container.envFrom ?? []) {
    const ref = from.configMapRef ?? from.secretRef;
    if (!ref) continue;
    const kind = from.configMapRef ? "ConfigMap" : "Secret";
    const refName = ref.name ?? "";
    const data = from.configMapRef ? await sources.configMap(refName) : await sources.secret(refName);
    if (!data) {
      if (ref.optional) continue;
      throw new EnvSourceMissing(`${kind} ${ref.name} not found`);
    }
    for (const [k, v] of Object.entries(data)) env[(from.prefix ?? "") + k] = v;
  }
  for (const e of container.env ?? []) {
    const value = e.valueFrom ? await valueFrom(pod, e.name, e.valueFrom, sources, podIP) : (e.value ?? "");
    if (value !== undefined) env[e.name] = value;
  }
  return env;
}

type ValueFrom = NonNullable<NonNullable<V1Container["env"]>[number]["valueFrom"]>;

async function valueFrom(pod: V1Pod, name: string, from: ValueFrom, sources: EnvSources, podIP: string): Promise<string | undefined> {
  if (from.fieldRef) return fieldValue(pod, from.fieldRef.fieldPath, podIP);
  const ref = from.configMapKeyRef ?? from.secretKeyRef;
  if (!ref) return undefined; // resourceFieldRef: no container limits to report here
  const kind = from.configMapKeyRef ? "ConfigMap" : "Secret";
  const refName = ref.name ?? "";
  const data = from.configMapKeyRef ? await sources.configMap(refName) : await sources.secret(refName);
  const value = data?.[ref.key];
  if (value === undefined && !ref.optional) throw new EnvSourceMissing(`${kind} ${ref.name} key ${ref.key} (for ${name}) not found`);
  return value;
}

/** A downward-API field of the pod (env fieldRef, downwardAPI volume items). */
export function fieldValue(pod: V1Pod, path: string, podIP: string): string {
  const meta = pod.metadata ?? {};
  const keyed = /^metadata\.(labels|annotations)\['(.+)'\]$/.exec(path);
  if (keyed) return (keyed[1] === "labels" ? meta.labels : meta.annotations)?.[keyed[2]!] ?? "";
  const fields: Record<string, string | undefined> = {
    "metadata.name": meta.name,
    "metadata.namespace": meta.namespace,
    "metadata.uid": meta.uid,
    "spec.nodeName": pod.spec?.nodeName,
    "spec.serviceAccountName": pod.spec?.serviceAccountName,
    "status.podIP": podIP,
    "status.hostIP": "127.0.0.1",
  };
  if (!(path in fields)) throw new EnvSourceMissing(`unsupported fieldRef ${path}`);
  return fields[path] ?? "";
}
