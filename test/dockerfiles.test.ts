import { describe, expect, it } from "vitest";
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { validate } from "dockerfile-utils";
import { projectRoot } from "../devstack/binaries.js";

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

  it("copies into the build stage every source the build compiles", () => {
    const buildStage = text.split(/^FROM /m).find((stage) => /RUN npm run build/.test(stage))!;
    const copied = [...buildStage.matchAll(/^COPY (?!--from)(.+) \S+$/gm)].flatMap((m) => m[1]!.split(/\s+/)).map((src) => src.replace(/\/$/, ""));
    const compiled = compiledSources();
    expect(compiled.length).toBeGreaterThan(50);
    const missing = compiled.filter((f) => !copied.some((src) => f === src || f.startsWith(`${src}/`)));
    expect(missing).toEqual([]);
  }, 60_000);

  it("starts entry points whose sources exist", () => {
    const entries = [...text.matchAll(/dist\/([\w/-]+)\.js/g)].map((m) => `${m[1]}.ts`);
    expect(entries.length).toBeGreaterThan(0);
    for (const entry of entries) expect(existsSync(join(projectRoot, entry)), entry).toBe(true);
  });
});

let compiled: string[] | undefined;
/** The project files `npm run build` compiles (tsconfig.build.json and everything it imports). */
function compiledSources(): string[] {
  compiled ??= execFileSync(process.execPath, [join(projectRoot, "node_modules/typescript/bin/tsc"), "-p", join(projectRoot, "tsconfig.build.json"), "--listFilesOnly"], { encoding: "utf8" })
    .split("\n").filter((f) => f.startsWith(projectRoot) && !f.includes("/node_modules/")).map((f) => f.slice(projectRoot.length).replace(/^\//, ""));
  return compiled;
}
