import { expect, it } from "vitest";
import { loadConfig } from "./config.js";
import { ConfigError } from "./errors.js";

it("gives the embedded defaults for an empty environment", () => {
  const c = loadConfig({});
  expect(c.PORT).toBe(8080);
  expect(c.STORAGE_URL).toBe("file:///tmp/pixelmill/storage");
  expect(c.REDIS_URL).toBe("redis://127.0.0.1:6379");
  expect(c.S3_FORCE_PATH_STYLE).toBe(false);
});

it("parses types from strings", () => {
  const c = loadConfig({ PORT: "9000", S3_FORCE_PATH_STYLE: "true", STORAGE_URL: "s3://my-bucket/prefix" });
  expect(c.PORT).toBe(9000);
  expect(c.S3_FORCE_PATH_STYLE).toBe(true);
});

it("fails fast naming every bad setting", () => {
  const bad = () => loadConfig({ PORT: "0", REDIS_URL: "http://x", STORAGE_URL: "ftp://x", LOG_LEVEL: "loud" });
  expect(bad).toThrow(ConfigError);
  try {
    bad();
  } catch (err) {
    const message = (err as Error).message;
    for (const name of ["PORT", "REDIS_URL", "STORAGE_URL", "LOG_LEVEL"]) expect(message).toContain(name);
  }
});

it("wants S3 keys in pairs", () => {
  expect(() => loadConfig({ S3_ACCESS_KEY_ID: "a" })).toThrow(/go together/);
});
