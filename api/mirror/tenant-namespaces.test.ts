import { expect, it } from "vitest";
import type { TenantRecord } from "../domain/ports.js";
import { TenantNamespaces } from "./tenant-namespaces.js";

it("reads the tenants' namespaces once for many asks, again when old, and soon again for one not found", async () => {
  let time = 0;
  let reads = 0;
  let namespaces = ["a", "b"];
  const tenants = { list: () => (reads++, Promise.resolve(namespaces.map((namespace) => ({ namespace }) as TenantRecord))) };
  const cache = new TenantNamespaces(tenants, { maxAgeMs: 60_000, missMaxAgeMs: 2000, now: () => time });
  expect(await Promise.all([cache.has("a"), cache.has("b"), cache.has("c")])).toEqual([true, true, false]);
  expect(reads).toBe(1);
  namespaces = ["a", "b", "c"]; // a tenant made just now
  time = 1000;
  expect(await cache.has("c")).toBe(false);
  expect(reads).toBe(1);
  time = 2500;
  expect(await cache.has("c")).toBe(true);
  expect(reads).toBe(2);
  time = 30_000;
  expect(await cache.has("a")).toBe(true);
  expect(reads).toBe(2);
  namespaces = ["b"];
  time = 63_000;
  expect(await cache.has("a")).toBe(false);
  expect(reads).toBe(3);
});
