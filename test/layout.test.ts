import { describe, expect, it } from "vitest";
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { projectRoot } from "../devstack/binaries.js";

const PRODUCT = ["api", "cli", "client", "common", "operator", "worker"];
/** What the images run (Dockerfile CMDs, the operator's command), the session thread, which engine code loads by URL, and the `pixelmill` CLI (package.json bin). */
const ENTRIES = ["cli/main.ts", "api/main.ts", "operator/main.ts", "worker/main.ts", "prisma/migrate-cli.ts", "worker/inference/session-thread.ts"];
const IMPORT = /(?:^|[\s;])(?:import|export)\s[^;]*?from\s*["'](\.{1,2}\/[^"']+)["']|import\(\s*["'](\.{1,2}\/[^"']+)["']\s*\)/g;

function sources(dir: string): string[] {
  return readdirSync(join(projectRoot, dir), { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && e.name.endsWith(".ts") && !e.name.endsWith(".test.ts"))
    .map((e) => relative(projectRoot, join(e.parentPath, e.name)))
    .filter((f) => !f.includes("/generated/"));
}

function imports(file: string): string[] {
  const text = readFileSync(join(projectRoot, file), "utf8");
  return [...text.matchAll(IMPORT)].map((m) => relative(projectRoot, resolve(projectRoot, dirname(file), (m[1] ?? m[2])!)).replace(/\.js$/, ".ts"));
}

/** Product folders hold product code only: every file there is reached from what production runs. */
describe("layout", () => {
  it("has no file under api/, common/, operator/ or worker/ that only tests (or nothing) import", () => {
    const reached = new Set<string>();
    const todo = [...ENTRIES];
    for (let file = todo.pop(); file !== undefined; file = todo.pop()) {
      if (reached.has(file) || file.includes("/generated/")) continue;
      reached.add(file);
      todo.push(...imports(file));
    }
    const product = PRODUCT.flatMap(sources);
    expect(product.length).toBeGreaterThan(80);
    expect(product.filter((f) => !reached.has(f))).toEqual([]);
  });

  it("keeps product code from importing the local stack or test support", () => {
    const offenders = [...PRODUCT.flatMap(sources), ...ENTRIES].flatMap((f) => imports(f).filter((i) => /^(test|devstack|bench)\//.test(i)).map((i) => `${f} → ${i}`));
    expect(offenders).toEqual([]);
  });
});
