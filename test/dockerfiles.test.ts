import { describe, expect, it } from "vitest";
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { join, matchesGlob } from "node:path";
import { validate } from "dockerfile-utils";
import { projectRoot } from "../devstack/binaries.js";

/**
 * The Dockerfiles, linted and checked against the tree. CI also builds and runs both images
 * (hack/images/ci.sh, ADR 0012); these checks say what is wrong before a build would.
 */
describe.each(["Dockerfile.api", "Dockerfile.worker"])("%s", (file) => {
  const text = readFileSync(join(projectRoot, file), "utf8");
  const lines = text.replace(/\\\n/g, " ").split("\n");
  /** The stage the image is: after the last FROM. */
  const final = lines.slice(lines.findLastIndex((l) => /^FROM\s/.test(l)));

  it("passes the Dockerfile linter", () => {
    expect(validate(text).map((p) => `${p.range.start.line + 1}: ${typeof p.message === "string" ? p.message : p.message.value}`)).toEqual([]);
  });

  it("copies only paths that exist in the repository", () => {
    const sources = lines.filter((l) => /^COPY\s/.test(l) && !/--from=/.test(l))
      .flatMap((l) => l.trim().split(/\s+/).slice(1, -1).filter((a) => !a.startsWith("--")));
    expect(sources.length).toBeGreaterThan(3);
    for (const src of sources) expect(existsSync(join(projectRoot, src)), src).toBe(true);
    expect(sources.filter((src) => ignoredByDockerignore(src))).toEqual([]);
  });

  it("copies into the build stage every source the build compiles", () => {
    const buildStage = text.split(/^FROM /m).find((stage) => /RUN npm run build/.test(stage))!;
    const copied = [...buildStage.matchAll(/^COPY (?!--from)(.+) \S+$/gm)].flatMap((m) => m[1]!.split(/\s+/)).map((src) => src.replace(/\/$/, ""));
    const compiled = compiledSources();
    expect(compiled.length).toBeGreaterThan(50);
    const missing = compiled.filter((f) => !copied.some((src) => f === src || f.startsWith(`${src}/`)));
    expect(missing).toEqual([]);
    // The build context has them too; generated ones are made in the image by `npm ci`'s postinstall.
    expect(compiled.filter((f) => !f.includes("/generated/") && ignoredByDockerignore(f))).toEqual([]);
  }, 60_000);

  it("starts entry points whose sources exist", () => {
    const entries = [...text.matchAll(/dist\/([\w/-]+)\.js/g)].map((m) => `${m[1]}.ts`);
    expect(entries.length).toBeGreaterThan(0);
    for (const entry of entries) expect(existsSync(join(projectRoot, entry)), entry).toBe(true);
  });

  it("runs as a user other than root", () => {
    const users = final.filter((l) => /^USER\s/.test(l)).map((l) => l.split(/\s+/)[1]);
    expect(users.length).toBeGreaterThan(0);
    expect(users.at(-1)).not.toMatch(/^(root|0)(:|$)/);
  });

  it("has a HEALTHCHECK that asks the liveness endpoint on a port the image sets", () => {
    const checks = final.filter((l) => /^HEALTHCHECK\s/.test(l));
    expect(checks).toHaveLength(1);
    // Exec form with Node's fetch: slim images have no curl.
    const [, port] = /CMD \["node", "-e", ".*process\.env\.(\w+) \+ '\/healthz'/.exec(checks[0]!) ?? [];
    expect(port).toBeDefined();
    expect(final.some((l) => new RegExp(`^ENV\\s.*\\b${port}=\\d+`).test(l)), `ENV ${port}`).toBe(true);
  });
});

describe("Dockerfile.worker", () => {
  const final = readFileSync(join(projectRoot, "Dockerfile.worker"), "utf8").replace(/\\\n/g, " ").split(/^FROM /m).at(-1)!;

  it("declares the model cache as a volume, where MODEL_CACHE_DIR points", () => {
    const [, dir] = /^ENV\s.*\bMODEL_CACHE_DIR=(\S+)/m.exec(final) ?? [];
    expect(dir).toMatch(/^\//);
    expect(final).toMatch(new RegExp(`^VOLUME \\[?"?${dir}"?\\]?$`, "m"));
  });

  it("compiles the server code only: the worker ships no web console", () => {
    const text = readFileSync(join(projectRoot, "Dockerfile.worker"), "utf8");
    expect(text).toMatch(/^RUN npm run build:server /m);
    expect(text).not.toMatch(/\bweb\b/);
  });

  it("installs onnxruntime-node's CUDA EP unless the build says otherwise", () => {
    expect(readFileSync(join(projectRoot, "Dockerfile.worker"), "utf8")).toMatch(/^ARG ONNXRUNTIME_CUDA=install$/m);
  });
});

describe("Dockerfile.api", () => {
  const text = readFileSync(join(projectRoot, "Dockerfile.api"), "utf8").replace(/\\\n/g, " ");

  it("keeps onnxruntime-node and its Linux binary: POST /v1/models loads uploads with it", () => {
    const pkg = JSON.parse(readFileSync(join(projectRoot, "package.json"), "utf8")) as { dependencies: Record<string, string> };
    expect(pkg.dependencies["onnxruntime-node"]).toBeDefined(); // npm prune --omit=dev keeps it
    expect(text).toMatch(/npm prune --omit=dev/);
    const removed = [...text.matchAll(/rm -rf ([^&\n]+)/g)].flatMap((m) => m[1]!.trim().split(/\s+/));
    expect(removed.filter((p) => p.includes("onnxruntime-node") && !/\/(darwin|win32)$/.test(p))).toEqual([]);
    expect(text).toMatch(/^COPY --from=build \/app\/node_modules \.\/node_modules$/m);
  });

  it("builds the web console with the rest and ships web/dist where CONSOLE_DIR's default points (<package root>/web/dist)", () => {
    const pkg = JSON.parse(readFileSync(join(projectRoot, "package.json"), "utf8")) as { scripts: Record<string, string> };
    expect(pkg.scripts.build).toMatch(/npm run build:web/);
    const buildStage = text.split(/^FROM /m).find((stage) => /RUN npm run build/.test(stage))!;
    expect(buildStage).toMatch(/^COPY web \.\/web$/m);
    expect(text).toMatch(/^WORKDIR \/app$/m);
    expect(text).toMatch(/^COPY --from=build \/app\/package\.json \.\/$/m); // the package root the API finds
    expect(text).toMatch(/^COPY --from=build \/app\/web\/dist \.\/web\/dist$/m);
    expect(ignoredByDockerignore("web/dist"), "a local build must not reach the context").toBe(true);
    expect(ignoredByDockerignore("web/src/main.tsx")).toBe(false);
  });
});

describe(".dockerignore", () => {
  it("keeps local state, dependencies, build output and tests out of the build context", () => {
    for (const path of [".git", "node_modules", "dist", ".pixelmill", "api/data/generated", "test", "bench", "docs", "common/config.test.ts"]) {
      expect(ignoredByDockerignore(path), path).toBe(true);
    }
  });
});

/** Whether Docker's build context leaves `path` out: the last .dockerignore pattern matching it or a folder above it decides. */
function ignoredByDockerignore(path: string): boolean {
  const patterns = readFileSync(join(projectRoot, ".dockerignore"), "utf8").split("\n").map((l) => l.trim()).filter((l) => l && !l.startsWith("#"));
  const parts = path.split("/");
  let ignored = false;
  for (const pattern of patterns) {
    const negated = pattern.startsWith("!");
    const glob = negated ? pattern.slice(1) : pattern;
    if (parts.some((_, i) => matchesGlob(parts.slice(0, i + 1).join("/"), glob))) ignored = !negated;
  }
  return ignored;
}

let compiled: string[] | undefined;
/** The project files `npm run build` compiles (tsconfig.build.json and everything it imports). */
function compiledSources(): string[] {
  compiled ??= execFileSync(process.execPath, [join(projectRoot, "node_modules/typescript/bin/tsc"), "-p", join(projectRoot, "tsconfig.build.json"), "--listFilesOnly"], { encoding: "utf8" })
    .split("\n").filter((f) => f.startsWith(projectRoot) && !f.includes("/node_modules/")).map((f) => f.slice(projectRoot.length).replace(/^\//, ""));
  return compiled;
}
