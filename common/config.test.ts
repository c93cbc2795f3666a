import { expect, it } from "vitest";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { generateApiKey } from "./auth/api-key.js";
import { adminKey, loadConfig } from "./config.js";
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

it("reads the bootstrap admin key from PIXELMILL_ADMIN_KEY or its file, and refuses a malformed one without echoing it", () => {
  const key = generateApiKey();
  expect(adminKey(loadConfig({}))).toBeUndefined();
  expect(adminKey(loadConfig({ PIXELMILL_ADMIN_KEY: key }))).toBe(key);
  const file = join(mkdtempSync(join(tmpdir(), "pm-key-")), "key");
  writeFileSync(file, `${key}\n`);
  expect(adminKey(loadConfig({ PIXELMILL_ADMIN_KEY_FILE: file }))).toBe(key);
  const typo = `${key.slice(0, -1)}${key.endsWith("0") ? "1" : "0"}`;
  expect(() => adminKey(loadConfig({ PIXELMILL_ADMIN_KEY: typo }))).toThrow(ConfigError);
  expect(() => adminKey(loadConfig({ PIXELMILL_ADMIN_KEY: typo }))).not.toThrow(typo);
  expect(() => adminKey(loadConfig({ PIXELMILL_ADMIN_KEY_FILE: join(file, "missing") }))).toThrow(/PIXELMILL_ADMIN_KEY_FILE/);
  expect(() => adminKey(loadConfig({ PIXELMILL_ADMIN_KEY: key, PIXELMILL_ADMIN_KEY_FILE: file }))).toThrow(/not both/);
});

it("has client-go's leader election timings by default and refuses them out of order", () => {
  const c = loadConfig({});
  expect(c.LEADER_ELECTION).toBe(true);
  expect([c.LEADER_ELECTION_LEASE_DURATION_S, c.LEADER_ELECTION_RENEW_DEADLINE_S, c.LEADER_ELECTION_RETRY_PERIOD_S]).toEqual([15, 10, 2]);
  expect(loadConfig({ LEADER_ELECTION: "false" }).LEADER_ELECTION).toBe(false);
  expect(() => loadConfig({ LEADER_ELECTION_RENEW_DEADLINE_S: "20" })).toThrow(/LEADER_ELECTION_RENEW_DEADLINE_S/);
});
