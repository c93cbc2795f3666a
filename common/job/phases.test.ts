import { describe, expect, it } from "vitest";
import { readFileSync } from "node:fs";
import { parse } from "yaml";
import { FINISHED_PHASES, IMAGEJOB_PHASES, isFinished, phaseNamed } from "./phases.js";

type Crd = { spec: { versions: { schema: { openAPIV3Schema: { properties: { status: { properties: { phase: { enum: string[] } } } } } } }[] } };

describe("ImageJob phases", () => {
  it("are the phases the CRD's status enum allows, in the same order", () => {
    const crd = parse(readFileSync(new URL("../../crds/imagejobs.pixelmill.io.yaml", import.meta.url), "utf8")) as Crd;
    expect(crd.spec.versions[0]!.schema.openAPIV3Schema.properties.status.properties.phase.enum).toEqual([...IMAGEJOB_PHASES]);
  });

  it("are finished only when nothing can change them again", () => {
    expect(IMAGEJOB_PHASES.filter((p) => isFinished(p))).toEqual(["Succeeded", "Failed", "Canceled"]);
    expect(FINISHED_PHASES).toHaveLength(3);
    expect(isFinished(undefined)).toBe(false);
  });

  it("are named case-insensitively, and nothing else is a phase", () => {
    expect(phaseNamed("succeeded")).toBe("Succeeded");
    expect(phaseNamed("QUEUED")).toBe("Queued");
    expect(phaseNamed("done")).toBeUndefined();
    expect(phaseNamed("")).toBeUndefined();
  });
});
