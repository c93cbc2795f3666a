import { describe, expect, it } from "vitest";
import { grantedBuckets, INPUT_BUCKETS_ANNOTATION, refuseBucket, type BucketRule } from "./input-grants.js";
import { parseInputUri, type InputUri } from "./input-uri.js";

const parsed = (uri: string): InputUri => {
  const input = parseInputUri(uri);
  if ("problem" in input) throw new Error(input.problem);
  return input;
};

describe("buckets granted to a namespace", () => {
  it("reads the annotation: comma-separated, trimmed, deduplicated, non-bucket names dropped", () => {
    expect(grantedBuckets({ [INPUT_BUCKETS_ANNOTATION]: " bucket-a, bucket-b ,,bucket-a,Not_A_Bucket" })).toEqual(["bucket-a", "bucket-b"]);
    expect(grantedBuckets({ other: "bucket-a" })).toEqual([]);
    expect(grantedBuckets(undefined)).toEqual([]);
    expect(grantedBuckets({ [INPUT_BUCKETS_ANNOTATION]: "" })).toEqual([]);
  });

  const rule = (granted: string[] | undefined): BucketRule => ({ allowed: new Set(["media", "team-a-in", "team-b-in"]), granted, root: "s3://media/pixelmill/" });

  it.each([
    ["s3://team-a-in/cat.png", ["team-a-in"]],
    ["s3://media/inputs/cat.png", ["media"]],
    // The namespace's own uploads and outputs in the platform's store need no grant.
    ["s3://media/pixelmill/uploads/team-a/x.png", []],
    ["s3://media/pixelmill/outputs/team-a/job/uid.png", []],
    // An older operator sent no grants: INPUT_BUCKETS alone decides.
    ["s3://team-b-in/cat.png", undefined],
    ["https://example.com/x.png", []],
    ["upload:uploads/team-a/x.png", []],
  ])("lets namespace team-a read %s (granted %j)", (uri, granted) => {
    expect(refuseBucket(parsed(uri), "team-a", rule(granted))).toBeUndefined();
  });

  it.each([
    ["s3://team-b-in/cat.png", ["team-a-in"]],
    ["s3://team-b-in/cat.png", []],
    // The rest of the store's bucket is read only where granted.
    ["s3://media/inputs/cat.png", ["team-a-in"]],
    ["s3://media/pixelmill/inputs/cat.png", []],
    // Another namespace's area is input-access.ts's to refuse; the grant does not open it either way.
    ["s3://media/pixelmill/uploads/team-b/x.png", []],
  ])("refuses namespace team-a %s (granted %j), naming the namespace and the annotation", (uri, granted) => {
    const bucket = /^s3:\/\/([^/]+)/.exec(uri)![1]!;
    expect(refuseBucket(parsed(uri), "team-a", rule(granted))).toBe(`bucket ${bucket} is not granted to namespace team-a (annotation ${INPUT_BUCKETS_ANNOTATION} on the Namespace)`);
  });

  it("refuses a bucket outside INPUT_BUCKETS whatever the grant", () => {
    expect(refuseBucket(parsed("s3://elsewhere/x.png"), "team-a", rule(["elsewhere"]))).toMatch(/INPUT_BUCKETS/);
    expect(refuseBucket(parsed("s3://elsewhere/x.png"), "team-a", rule(undefined))).toMatch(/INPUT_BUCKETS/);
  });

  it("grants nothing by the store's own areas to a file store", () => {
    expect(refuseBucket(parsed("s3://media/pixelmill/uploads/team-a/x.png"), "team-a", { ...rule([]), root: undefined })).toMatch(/not granted/);
  });
});
