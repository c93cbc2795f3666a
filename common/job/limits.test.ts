import { describe, expect, it } from "vitest";
import { readFileSync } from "node:fs";
import { parse } from "yaml";
import {
  MAX_PARAM_STRING_LENGTH, MAX_PARAMS, MAX_START_DEADLINE_SECONDS, MAX_TIMEOUT_SECONDS, MAX_TTL_SECONDS_AFTER_FINISHED,
} from "./limits.js";

type Schema = { maximum?: number; minimum?: number; maxProperties?: number; minProperties?: number; maxItems?: number; minItems?: number; maxLength?: number; properties?: Record<string, Schema>; additionalProperties?: Schema };
type Crd = { spec: { versions: { schema: { openAPIV3Schema: Schema } }[] } };

const specOf = (file: string): Record<string, Schema> => {
  const crd = parse(readFileSync(new URL(`../../crds/${file}`, import.meta.url), "utf8")) as Crd;
  return crd.spec.versions[0]!.schema.openAPIV3Schema.properties!.spec!.properties!;
};

describe("job limits", () => {
  it("are the CRD's maxima", () => {
    const spec = specOf("imagejobs.pixelmill.io.yaml");
    expect(spec.ttlSecondsAfterFinished!.maximum).toBe(MAX_TTL_SECONDS_AFTER_FINISHED);
    expect(spec.startDeadlineSeconds!.maximum).toBe(MAX_START_DEADLINE_SECONDS);
    expect(spec.timeoutSeconds!.maximum).toBe(MAX_TIMEOUT_SECONDS);
    expect(specOf("workerpools.pixelmill.io.yaml").maxJobSeconds!.maximum).toBe(MAX_TIMEOUT_SECONDS);
    expect(spec.params!.maxProperties).toBe(MAX_PARAMS);
    // Each value: a string of at most MAX_PARAM_STRING_LENGTH, and never an object or an array.
    expect(spec.params!.additionalProperties).toMatchObject({ maxLength: MAX_PARAM_STRING_LENGTH, maxProperties: 0, minProperties: 1, maxItems: 0, minItems: 1 });
  });
});
