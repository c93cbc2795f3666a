import { expect, it } from "vitest";
import { hasOwnTtl, operatorTtlSeconds, OPERATOR_FALLBACK_TTL_SECONDS } from "./retention.js";

const spec = (ttlSecondsAfterFinished?: number) => ({ spec: { model: "m", input: { uri: "upload:a" }, ttlSecondsAfterFinished } });

it("a TTL in the spec, 0 included, is the operator's to keep; none is the mirror's, with the operator's long fallback", () => {
  expect([hasOwnTtl(spec(0)), operatorTtlSeconds(spec(0))]).toEqual([true, 0]);
  expect([hasOwnTtl(spec(7200)), operatorTtlSeconds(spec(7200))]).toEqual([true, 7200]);
  expect([hasOwnTtl(spec()), operatorTtlSeconds(spec())]).toEqual([false, OPERATOR_FALLBACK_TTL_SECONDS]);
  expect(OPERATOR_FALLBACK_TTL_SECONDS).toBe(3600);
});
