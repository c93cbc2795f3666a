import { describe, expect, it } from "vitest";
import { allowedInputBuckets, inputBuckets, parseInputUri } from "./input-uri.js";

describe("parseInputUri", () => {
  it.each([
    ["upload:uploads/ab12.png", { scheme: "upload", key: "uploads/ab12.png" }],
    ["s3://media-bucket/cats/a.png", { scheme: "s3", bucket: "media-bucket", key: "cats/a.png" }],
  ])("reads %s", (uri, expected) => {
    expect(parseInputUri(uri)).toEqual(expected);
  });

  it("reads https URLs, with an IPv6 host unbracketed", () => {
    const parsed = parseInputUri("https://[2001:db8::1]:8443/a.png");
    expect(parsed).toMatchObject({ scheme: "https", host: "2001:db8::1" });
    expect(parsed).toHaveProperty("url.pathname", "/a.png");
  });

  it.each([
    ["file:///etc/passwd", /scheme file: are not allowed/],
    ["http://example.com/a.png", /scheme http: are not allowed/],
    ["cats/a.png", /scheme \(none\) are not allowed/],
    ["upload:../other/a.png", /is not an upload:<key> URI/],
    ["upload:", /is not an upload:<key> URI/],
    ["s3://Bad_Bucket/a.png", /is not an s3:\/\/<bucket>\/<key> URI/],
    ["s3://bucket-only", /is not an s3:\/\/<bucket>\/<key> URI/],
    ["https://", /is not an absolute https:\/\/ URL with a host/],
    [`https://example.com/${"a".repeat(2048)}`, /at most 2048 characters/],
  ])("refuses %s", (uri, problem) => {
    expect(parseInputUri(uri)).toEqual({ problem: expect.stringMatching(problem) as string });
  });
});

describe("input buckets", () => {
  const s3Store = { uri: (key: string) => `s3://media/${key}` };
  const fileStore = { uri: (key: string) => `file:///srv/${key}` };

  it("are the configured ones, else the store's own bucket, else none", () => {
    expect([...allowedInputBuckets(["a", "b"], s3Store)]).toEqual(["a", "b"]);
    expect([...allowedInputBuckets(undefined, s3Store)]).toEqual(["media"]);
    expect([...allowedInputBuckets(undefined, fileStore)]).toEqual([]);
    expect(inputBuckets({ STORAGE_URL: "s3://media/prefix" })).toEqual(["media"]);
    expect(inputBuckets({ STORAGE_URL: "s3://media", INPUT_BUCKETS: ["x"] })).toEqual(["x"]);
  });
});
