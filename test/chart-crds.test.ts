import { expect, it } from "vitest";
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { projectRoot } from "../devstack/binaries.js";

it("the chart's CRDs are exactly crds/ (run hack/sync-chart-crds.sh after editing crds/)", async () => {
  const list = async (dir: string) => (await readdir(join(projectRoot, dir))).filter((f) => f.endsWith(".yaml")).sort();
  const source = await list("crds");
  expect(source.length).toBeGreaterThanOrEqual(3);
  expect(await list("charts/pixelmill/crds")).toEqual(source);
  for (const file of source) {
    const [a, b] = await Promise.all([readFile(join(projectRoot, "crds", file), "utf8"), readFile(join(projectRoot, "charts/pixelmill/crds", file), "utf8")]);
    expect(b, file).toBe(a);
  }
});
