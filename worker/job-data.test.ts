import { describe, expect, it } from "vitest";
import { JobFailure } from "../common/errors.js";
import { parseJobData } from "./job-data.js";

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
