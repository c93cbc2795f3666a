import { describe, expect, it } from "vitest";
import { mkdtemp, readFile, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { V1Container, V1Pod } from "@kubernetes/client-node";
import { entryPoint, mountVolumes, remapPorts } from "./pod-container.js";
import type { EnvSources } from "./pod-env.js";

const pod = (name: string, extra: Partial<V1Pod["spec"]> = {}): V1Pod => ({
  metadata: { name: "p", namespace: "ns", labels: { "app.kubernetes.io/name": name } },
  spec: { containers: [], ...extra },
});

describe("entryPoint", () => {
  it("runs the compiled file an image's command names from its TypeScript source", () => {
    expect(entryPoint(pod("pixelmill"), { name: "api", command: ["node", "dist/api/main.js"] })).toEqual({ script: "api/main.ts", args: [] });
    expect(entryPoint(pod("pixelmill"), { name: "m", command: ["node"], args: ["dist/prisma/migrate-cli.js", "--x"] })).toEqual({ script: "prisma/migrate-cli.ts", args: ["--x"] });
  });

  it("runs the worker image's default command for a worker pod without one", () => {
    expect(entryPoint(pod("pixelmill-worker"), { name: "worker" })).toEqual({ script: "worker/main.ts", args: [] });
  });

  it("refuses commands that are not the images' node entry points", () => {
    expect(() => entryPoint(pod("pixelmill"), { name: "x" })).toThrow(/cannot run \[\]/);
    expect(() => entryPoint(pod("pixelmill"), { name: "x", command: ["sh", "-c", "rm -rf /"] })).toThrow(/only `node dist/);
    expect(() => entryPoint(pod("pixelmill"), { name: "x", command: ["node", "dist/../../etc/passwd.js"] })).toThrow(/cannot run/);
  });
});

describe("remapPorts", () => {
  it("gives each port setting a free host port and maps the declared ports, by number and name, to them", async () => {
    const container: V1Container = { name: "api", ports: [{ name: "http", containerPort: 8080 }, { name: "health", containerPort: 9000 }] };
    const { env, ports } = await remapPorts(container, { PORT: "8080", HEALTH_PORT: "9000", OTHER: "1" });
    expect(env.OTHER).toBe("1");
    expect(Number(env.PORT)).not.toBe(8080);
    expect(ports.get("http")).toBe(Number(env.PORT));
    expect(ports.get("8080")).toBe(Number(env.PORT));
    expect(ports.get("health")).toBe(Number(env.HEALTH_PORT));
    expect(env.PORT).not.toBe(env.HEALTH_PORT);
  });

  it("uses the processes' defaults when the env does not set a port (the worker's health port is 8081)", async () => {
    const { env, ports } = await remapPorts({ name: "worker", ports: [{ name: "health", containerPort: 8081 }] }, {});
    expect(ports.get("health")).toBe(Number(env.HEALTH_PORT));
    expect(ports.get("8081")).toBe(Number(env.HEALTH_PORT));
    expect(ports.has("http")).toBe(false);
    // Undeclared, yet served: a probe may name it by number.
    expect(ports.get("8080")).toBe(Number(env.PORT));
  });
});

describe("mountVolumes", () => {
  const sources: EnvSources = {
    configMap: (name) => Promise.resolve(name === "cm" ? { "a.txt": "A" } : undefined),
    secret: (name) => Promise.resolve(name === "admin" ? { key: "s3cr3t", other: "x" } : undefined),
  };

  it("writes secret items and configMap keys as files, makes emptyDirs, and rewrites env paths under mount points", async () => {
    const dir = await mkdtemp(join(tmpdir(), "pod-container-"));
    const p = pod("pixelmill", { volumes: [
      { name: "admin", secret: { secretName: "admin", items: [{ key: "key", path: "admin-key" }] } },
      { name: "config", configMap: { name: "cm" } },
      { name: "tmp", emptyDir: {} },
    ] });
    const container: V1Container = { name: "api", volumeMounts: [
      { name: "admin", mountPath: "/etc/pixelmill/admin", readOnly: true }, { name: "config", mountPath: "/etc/cfg/" }, { name: "tmp", mountPath: "/tmp" },
    ] };
    const env = await mountVolumes(p, container, { sources, podIP: "10.244.0.2" }, dir, {
      PIXELMILL_ADMIN_KEY_FILE: "/etc/pixelmill/admin/admin-key", CFG: "/etc/cfg", SCRATCH: "/tmp/x", UNRELATED: "/tmpfoo", URL: "file:///tmp/y",
    });
    expect(env.PIXELMILL_ADMIN_KEY_FILE).toBe(join(dir, "volumes/admin/admin-key"));
    expect(await readFile(env.PIXELMILL_ADMIN_KEY_FILE!, "utf8")).toBe("s3cr3t");
    await expect(stat(join(dir, "volumes/admin/other"))).rejects.toThrow(); // only the listed item
    expect(await readFile(join(env.CFG!, "a.txt"), "utf8")).toBe("A");
    expect(env.SCRATCH).toBe(join(dir, "volumes/tmp/x"));
    expect(env.UNRELATED).toBe("/tmpfoo");
    expect(env.URL).toBe("file:///tmp/y");
  });

  it("projects the service-account token, the cluster CA and the namespace, as the kubelet's kube-api-access volume", async () => {
    const dir = await mkdtemp(join(tmpdir(), "pod-container-"));
    const p = pod("pixelmill", { volumes: [{ name: "kube-api-access", projected: { sources: [
      { serviceAccountToken: { path: "token", expirationSeconds: 3607 } },
      { configMap: { name: "cm", items: [{ key: "a.txt", path: "ca.crt" }] } },
      { downwardAPI: { items: [{ path: "namespace", fieldRef: { fieldPath: "metadata.namespace" } }] } },
    ] } }] });
    const container: V1Container = { name: "c", volumeMounts: [{ name: "kube-api-access", mountPath: "/var/run/secrets/kubernetes.io/serviceaccount" }] };
    await mountVolumes(p, container, { sources, token: "tok", podIP: "10.244.0.2" }, dir, {});
    const read = (f: string) => readFile(join(dir, "volumes/kube-api-access", f), "utf8");
    expect([await read("token"), await read("ca.crt"), await read("namespace")]).toEqual(["tok", "A", "ns"]);
    await expect(mountVolumes(p, container, { sources, podIP: "10.244.0.2" }, dir, {})).rejects.toThrow("the pod mounts no service-account token");
  });

  it("fails on a missing secret unless optional, and on volume kinds it cannot provide", async () => {
    const dir = await mkdtemp(join(tmpdir(), "pod-container-"));
    const mount = { name: "v", mountPath: "/v" };
    await expect(mountVolumes(pod("pixelmill", { volumes: [{ name: "v", secret: { secretName: "nope" } }] }), { name: "c", volumeMounts: [mount] }, { sources, podIP: "10.244.0.2" }, dir, {}))
      .rejects.toThrow("Secret nope (volume v) not found");
    await expect(mountVolumes(pod("pixelmill", { volumes: [{ name: "v", secret: { secretName: "nope", optional: true } }] }), { name: "c", volumeMounts: [mount] }, { sources, podIP: "10.244.0.2" }, dir, {}))
      .resolves.toEqual({});
    await expect(mountVolumes(pod("pixelmill", { volumes: [{ name: "v", hostPath: { path: "/" } }] }), { name: "c", volumeMounts: [mount] }, { sources, podIP: "10.244.0.2" }, dir, {}))
      .rejects.toThrow(/only emptyDir, secret, configMap and projected/);
  });
});
