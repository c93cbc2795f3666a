import { describe, expect, it } from "vitest";
import { refuseInput, storeRoot } from "./input-access.js";
import { parseInputUri, type InputUri } from "./input-uri.js";

const parsed = (uri: string): InputUri => {
  const input = parseInputUri(uri);
  if ("problem" in input) throw new Error(input.problem);
  return input;
};

describe("inputs from the platform's store", () => {
  const prefixed = "s3://media/pixelmill/";
  const rootStore = "s3://media/";

  it("knows an S3 store's root, and that a file store has none", () => {
    expect(storeRoot({ uri: (k) => `s3://media/pixelmill/${k}` })).toBe(prefixed);
    expect(storeRoot({ uri: (k) => `file:///srv/${k}` })).toBeUndefined();
  });

  it.each([
    ["upload:uploads/team-a/x.png", prefixed],
    ["upload:uploads/team-a/x.png", undefined],
    ["s3://media/pixelmill/uploads/team-a/x.png", prefixed],
    ["s3://media/pixelmill/outputs/team-a/job-1/uid-1.png", prefixed],
    ["s3://media/outputs/team-a/job-1/uid-1.png", rootStore],
    ["s3://media/inputs/cat.png", rootStore],
    ["s3://media/other-app/cat.png", prefixed],
    ["s3://media/pixelmill/inputs/cat.png", prefixed],
    ["s3://other/pixelmill/uploads/team-b/x.png", prefixed],
    ["https://example.com/uploads/team-b/x.png", prefixed],
  ])("lets a job of team-a read %s (store %s)", (uri, root) => {
    expect(refuseInput(parsed(uri), "team-a", root)).toBeUndefined();
  });

  it.each([
    ["upload:uploads/team-b/x.png", prefixed, /is not an upload of namespace team-a/],
    ["upload:samples/x.png", undefined, /is not an upload of namespace team-a/],
    ["upload:uploads/team-a-2/x.png", prefixed, /is not an upload of namespace team-a/],
    ["s3://media/pixelmill/uploads/team-b/x.png", prefixed, /outside namespace team-a's uploads and outputs/],
    ["s3://media/pixelmill/outputs/team-b/job/uid-1.png", prefixed, /outside namespace team-a's/],
    // Model files added through the API are no job's input, not even their own namespace's.
    ["s3://media/pixelmill/models/team-a/0123abcd.onnx", prefixed, /outside namespace team-a's uploads and outputs/],
    ["s3://media/uploads/team-b/x.png", rootStore, /outside namespace team-a's/],
    ["s3://media/outputs/team-a-2/j/u-1.png", rootStore, /outside namespace team-a's/],
  ])("refuses a job of team-a %s (store %s)", (uri, root, why) => {
    expect(refuseInput(parsed(uri), "team-a", root)).toMatch(why);
  });
});
