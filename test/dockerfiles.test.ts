import { describe, expect, it } from "vitest";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { validate } from "dockerfile-utils";
import { projectRoot } from "./harness/binaries.js";

/** No Docker engine here: the Dockerfiles are linted and checked against the tree instead of built. */
describe.each(["Dockerfile.api", "Dockerfile.worker"])("%s", (file) => {
  const text = readFileSync(join(projectRoot, file), "utf8");
  const lines = text.replace(/\\\n/g, " ").split("\n");

  it("passes the Dockerfile linter", () => {
    expect(validate(text).map((p) => `${p.range.start.line + 1}: ${typeof p.message === "string" ? p.message : p.message.value}`)).toEqual([]);
  });

  it("copies only paths that exist in the repository", () => {
    const sources = lines.filter((l) => /^COPY\s/.test(l) && !/--from=/.test(l))
      .flatMap((l) => l.trim().split(/\s+/).slice(1, -1).filter((a) => !a.startsWith("--")));
    expect(sources.length).toBeGreaterThan(3);
    for (const src of sources) expect(existsSync(join(projectRoot, src)), src).toBe(true);
  });

  it("starts entry points whose sources exist", () => {
    const entries = [...text.matchAll(/dist\/([\w/-]+)\.js/g)].map((m) => `${m[1]}.ts`);
    expect(entries.length).toBeGreaterThan(0);
    for (const entry of entries) expect(existsSync(join(projectRoot, entry)), entry).toBe(true);
  });
});
