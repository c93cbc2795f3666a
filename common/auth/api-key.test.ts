import { describe, expect, it } from "vitest";
import { apiKeyPrefix, generateApiKey, hashApiKey, isWellFormedApiKey } from "./api-key.js";

describe("API keys", () => {
  it("have the shape pm_<kind>_<43 base62>_<6 base62 checksum>", () => {
    const live = generateApiKey();
    expect(live).toMatch(/^pm_live_[0-9A-Za-z]{43}_[0-9A-Za-z]{6}$/);
    expect(generateApiKey("test")).toMatch(/^pm_test_[0-9A-Za-z]{43}_[0-9A-Za-z]{6}$/);
    expect(generateApiKey()).not.toBe(live);
    expect(isWellFormedApiKey(live)).toBe(true);
    expect(apiKeyPrefix(live)).toBe(live.slice(0, 16));
  });

  it("refuse a typo by the checksum", () => {
    const key = generateApiKey();
    const i = 20;
    const typo = key.slice(0, i) + (key[i] === "a" ? "b" : "a") + key.slice(i + 1);
    expect(isWellFormedApiKey(typo)).toBe(false);
    expect(isWellFormedApiKey(key.slice(0, -1) + (key.endsWith("0") ? "1" : "0"))).toBe(false);
    expect(isWellFormedApiKey(key.replace("pm_live_", "pm_test_"))).toBe(false);
  });

  it("refuse anything else", () => {
    for (const bad of ["", "pm_live_", "Bearer x", `pm_prod_${"a".repeat(43)}_aaaaaa`, `${generateApiKey()} `]) {
      expect(isWellFormedApiKey(bad)).toBe(false);
    }
  });

  it("are stored as their SHA-256, hex", () => {
    expect(hashApiKey("pm_test_x")).toMatch(/^[0-9a-f]{64}$/);
    expect(hashApiKey("pm_test_x")).toBe(hashApiKey("pm_test_x"));
  });
});
