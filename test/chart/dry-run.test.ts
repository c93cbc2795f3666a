import { beforeAll, describe, expect, it } from "vitest";
import { CoreV1Api } from "@kubernetes/client-node";
import { kubeConfig, testEnv, uniqueName } from "../support/env.js";
import { chartDir, helm, parse, pipe, productionValues, template } from "./helm.js";

/**
 * The rendered manifests against the real apiserver's schemas (and the CRDs' CEL rules):
 * server-side apply with dry run, as `kubectl apply --server-side --dry-run=server` does.
 */
describe("the rendered chart against the apiserver", () => {
  const namespace = uniqueName("chart");
  beforeAll(async () => {
    await kubeConfig().makeApiClient(CoreV1Api).createNamespace({ body: { metadata: { name: namespace } } });
  });

  const apply = (manifest: string) =>
    pipe("kubectl", ["--kubeconfig", testEnv().kubeconfigPath, "apply", "--server-side", "--dry-run=server", "--field-manager=helm", "-f", "-"], manifest);

  it.each([["default", []], ["production", [productionValues]]])("accepts every object of the %s values", async (_, values) => {
    const rendered = await template({ namespace, values });
    // The test cluster has no Prometheus Operator CRDs; their objects are checked by shape in chart.test.ts.
    const objects = parse(rendered).filter((o) => o.kind !== "ServiceMonitor" && o.kind !== "PodMonitor");
    const out = await apply(JSON.stringify({ apiVersion: "v1", kind: "List", items: objects }));
    const accepted = out.split("\n").filter((l) => / serverside-applied \(server dry run\)$/.test(l));
    expect(accepted, out).toHaveLength(objects.length);
  });

  it("refuses what the apiserver would refuse (a WorkerPool breaking the CRD's rules)", async () => {
    const rendered = await template({ namespace, values: [productionValues], set: ["workerPools[0].gpu.count=0"] });
    const pool = parse(rendered).find((o) => o.kind === "WorkerPool")!;
    await expect(apply(JSON.stringify(pool))).rejects.toThrow(/spec.gpu.product needs spec.gpu.count greater than 0/);
  });

  it("prints NOTES that show how to read the admin key and submit a first job", async () => {
    const out = await helm(["install", "pixelmill", chartDir, "--namespace", namespace, "--dry-run=client"], { KUBECONFIG: testEnv().kubeconfigPath });
    const notes = out.slice(out.indexOf("NOTES:"));
    expect(notes).toContain(`kubectl get secret --namespace ${namespace} pixelmill-admin-key -o jsonpath='{.data.admin-key}' | base64 -d`);
    expect(notes).toContain(`kubectl port-forward --namespace ${namespace} service/pixelmill-api 8080:80`);
    expect(notes).toContain(`curl -H "Authorization: Bearer $PIXELMILL_API_KEY" -F model=grayscale -F image=@cat.png "$PIXELMILL_API_URL/v1/jobs"`);
  });
});
