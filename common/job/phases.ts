/**
 * The phases of an ImageJob (status.phase), in the order a job moves through them, and which of
 * them are final. The CRD's enum (crds/imagejobs.pixelmill.io.yaml) lists the same names; a test
 * keeps the two equal.
 */
export const IMAGEJOB_PHASES = ["Pending", "Queued", "Running", "Succeeded", "Failed", "Canceled"] as const;

export type ImageJobPhase = (typeof IMAGEJOB_PHASES)[number];

/** A job in one of these phases never changes again: no more work, no more status writes. */
export const FINISHED_PHASES: readonly ImageJobPhase[] = ["Succeeded", "Failed", "Canceled"];

export function isFinished(phase: ImageJobPhase | undefined): boolean {
  return phase !== undefined && FINISHED_PHASES.includes(phase);
}

/** The phase named case-insensitively (the API's `status=succeeded`), or undefined. */
export function phaseNamed(name: string): ImageJobPhase | undefined {
  const lower = name.toLowerCase();
  return IMAGEJOB_PHASES.find((p) => p.toLowerCase() === lower);
}
