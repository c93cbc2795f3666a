import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mkdtemp, rm } from "node:fs/promises";
import { join } from "node:path";
import { tmpdir } from "node:os";
import { FileObjectStore } from "../../../common/storage/index.js";
import { expandBatch, type ExpandDeps, type Expansion } from "./batch-expand.js";

/** The expansion's failure message of `kind`, or "" when it did not fail so. */
const failure = (e: Expansion, kind: "invalid" | "tooLarge"): string => (kind in e ? (e as Record<typeof kind, string>)[kind] : "");

// Expansion against a real file store (the S3 listing is covered end to end in test/e2e/batch-jobs.test.ts).
let dir = "";
let deps: ExpandDeps;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "batch-expand-"));
  const store = new FileObjectStore(dir);
  for (const key of ["uploads/team/in/b.png", "uploads/team/in/a.png", "uploads/team/in/deep/c.png", "uploads/team/in/notes.txt", "uploads/other/in/x.png"]) {
    await store.put(key, Buffer.from("x"));
  }
  deps = { store, bucketStore: () => store, rule: { allowed: new Set(["inputs"]), granted: ["inputs"], root: undefined }, maxItems: 3 };
});

afterAll(async () => rm(dir, { recursive: true, force: true }));

describe("expandBatch", () => {
  it("lists a prefix in key order, filtered by the glob relative to it", async () => {
    expect(await expandBatch({ prefix: "upload:uploads/team/in/", glob: "*.png" }, "team", deps)).toEqual({ inputs: ["upload:uploads/team/in/a.png", "upload:uploads/team/in/b.png"] });
    expect(await expandBatch({ prefix: "upload:uploads/team/in/", glob: "**/*.png" }, "team", deps)).toEqual({
      inputs: ["upload:uploads/team/in/a.png", "upload:uploads/team/in/b.png", "upload:uploads/team/in/deep/c.png"],
    });
  });

  it("fails a listing past the limit, and one that matches nothing", async () => {
    expect(failure(await expandBatch({ prefix: "upload:uploads/team/in/" }, "team", deps), "tooLarge")).toContain("more than 3");
    expect(failure(await expandBatch({ prefix: "upload:uploads/team/in/", glob: "*.gif" }, "team", deps), "invalid")).toContain("no object under");
  });

  it("refuses another namespace's uploads and buckets not granted", async () => {
    expect(failure(await expandBatch({ prefix: "upload:uploads/other/in/" }, "team", deps), "invalid")).toContain("not under namespace team's uploads");
    expect(failure(await expandBatch({ prefix: "s3://elsewhere/in/" }, "team", deps), "invalid")).toContain("bucket elsewhere");
    expect(failure(await expandBatch({ inputs: ["s3://inputs/a.png", "upload:uploads/other/x.png"] }, "team", deps), "invalid")).toMatch(/^spec\.batch\.inputs\[1\]: /);
  });

  it("takes a list as given, up to the limit", async () => {
    expect(await expandBatch({ inputs: ["s3://inputs/a.png", "upload:uploads/team/x.png"] }, "team", deps)).toEqual({ inputs: ["s3://inputs/a.png", "upload:uploads/team/x.png"] });
    expect(failure(await expandBatch({ inputs: ["s3://inputs/1", "s3://inputs/2", "s3://inputs/3", "s3://inputs/4"] }, "team", deps), "tooLarge")).toContain("4 items");
  });
});
