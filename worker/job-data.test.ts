import { describe, expect, it } from "vitest";
import { JobFailure } from "../common/errors.js";
import { outputKey, parseJobData } from "./job-data.js";

const data = {
  uid: "u-1", namespace: "team-a", name: "job-1", model: "m", modelSpec: {}, modelVersion: "1", inputUri: "s3://b/k.png",
  params: {}, output: { format: "png" },
};

describe("queue job data", () => {
  it("keeps the namespace's granted input buckets, and their absence (an older operator's job)", () => {
    expect(parseJobData({ ...data, inputBuckets: ["bucket-a"] }).inputBuckets).toEqual(["bucket-a"]);
    expect(parseJobData({ ...data, inputBuckets: [] }).inputBuckets).toEqual([]);
    expect(parseJobData(data).inputBuckets).toBeUndefined();
  });

  it("refuses granted buckets that are not a list of names", () => {
    expect(() => parseJobData({ ...data, inputBuckets: "bucket-a" })).toThrow(JobFailure);
    expect(() => parseJobData({ ...data, inputBuckets: [1] })).toThrow(/inputBuckets/);
  });
});

describe("output keys", () => {
  const job = { namespace: "team-a", name: "job-1", uid: "u-1", output: { format: "jpeg" as const } };

  it("end in the job's image format, one per attempt", () => {
    expect(outputKey({ ...job, modelSpec: { source: { uri: "builtin:grayscale" }, task: "image-to-image", output: { kind: "image" } } }, 2))
      .toBe("outputs/team-a/job-1/u-1-2.jpg");
  });

  it("end in .json for a model whose output is a document, whatever image format the job named", () => {
    expect(outputKey({ ...job, modelSpec: { source: { uri: "builtin:ocr-detector" }, task: "image-to-text", output: { kind: "json" } } }, 1))
      .toBe("outputs/team-a/job-1/u-1-1.json");
  });
});
