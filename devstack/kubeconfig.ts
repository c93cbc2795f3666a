import { readFile, writeFile } from "node:fs/promises";
import { stringify } from "yaml";

/** Writes a kubeconfig for one cluster, one token user, one context named `pixelmill-local`. */
export async function writeKubeconfig(path: string, server: string, caCertPath: string, token: string): Promise<void> {
  const caData = (await readFile(caCertPath)).toString("base64");
  const config = {
    apiVersion: "v1",
    kind: "Config",
    clusters: [{ name: "pixelmill-local", cluster: { server, "certificate-authority-data": caData } }],
    users: [{ name: "pixelmill-admin", user: { token } }],
    contexts: [{ name: "pixelmill-local", context: { cluster: "pixelmill-local", user: "pixelmill-admin", namespace: "default" } }],
    "current-context": "pixelmill-local",
  };
  await writeFile(path, stringify(config), { mode: 0o600 });
}
