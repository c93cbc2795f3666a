import { describe, expect, it } from "vitest";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { projectRoot } from "../devstack/binaries.js";

const read = (file: string) => readFileSync(join(projectRoot, file), "utf8");
const pinned = read(".node-version").trim();

/** One Node version everywhere: the tests, the developers' and CI's machines, and both images. */
describe("Node.js runtime", () => {
  it("is the LTS line the project pins, and the tests run on it", () => {
    expect(pinned).toMatch(/^24\.\d+\.\d+$/);
    expect(process.versions.node.split(".")[0]).toBe(pinned.split(".")[0]);
    expect((JSON.parse(read("package.json")) as { engines: { node: string } }).engines.node).toBe(">=24");
  });

  it("is the version hack/use-node.sh installs where the machine's Node is older", () => {
    expect(/^node_version=(\S+)$/m.exec(read("hack/use-node.sh"))?.[1]).toBe(pinned);
  });

  it.each(["Dockerfile.api", "Dockerfile.worker"])("is the base of %s", (file) => {
    expect(/^ARG NODE_IMAGE=(\S+)$/m.exec(read(file))?.[1]).toBe(`node:${pinned}-bookworm-slim`);
  });
});
