import { afterAll, beforeAll, expect, it } from "vitest";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { createPrisma } from "../api/data/prisma.js";
import { hashApiKey } from "../common/auth/api-key.js";
import { SCOPES } from "../api/domain/principal.js";
import { migrate } from "../prisma/migrate.js";
import { createTestDatabase, type TestDatabase } from "../test/support/database.js";
import { ensureDevKey } from "./dev-key.js";

let db: TestDatabase;
let dir: string;
beforeAll(async () => {
  db = await createTestDatabase("dev-key");
  await migrate(db.url, { migrationsDir: fileURLToPath(new URL("../prisma/migrations", import.meta.url)) });
  dir = await mkdtemp(join(tmpdir(), "pm-dev-key-"));
});
afterAll(async () => {
  await db?.drop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

it("makes a development key for namespace default once, reuses it, and replaces it once revoked", async () => {
  const file = join(dir, "dev-key");
  const first = await ensureDevKey(db.url, "default", file);
  expect(first).toMatchObject({ created: true, key: expect.stringMatching(/^pm_test_/) as string });
  expect((await readFile(file, "utf8")).trim()).toBe(first.key);
  expect(await ensureDevKey(db.url, "default", file)).toEqual({ key: first.key, created: false });

  const prisma = createPrisma(db.url);
  try {
    const stored = await prisma.apiKey.findUniqueOrThrow({ where: { hash: hashApiKey(first.key) }, include: { tenant: true } });
    expect(stored.tenant.namespace).toBe("default");
    await prisma.apiKey.update({ where: { id: stored.id }, data: { revokedAt: new Date() } });
  } finally {
    await prisma.$disconnect();
  }
  const next = await ensureDevKey(db.url, "default", file);
  expect(next.created).toBe(true);
  expect(next.key).not.toBe(first.key);
});

it("gives the key every scope, admin included, and replaces a kept key made with fewer", async () => {
  const file = join(dir, "dev-key-scopes");
  const first = await ensureDevKey(db.url, "default", file);
  const prisma = createPrisma(db.url);
  try {
    const stored = await prisma.apiKey.findUniqueOrThrow({ where: { hash: hashApiKey(first.key) } });
    expect([...stored.scopes].sort()).toEqual([...SCOPES].sort());
    // As an older `npm run dev` made it: without admin.
    await prisma.apiKey.update({ where: { id: stored.id }, data: { scopes: stored.scopes.filter((s) => s !== "admin") } });
    const next = await ensureDevKey(db.url, "default", file);
    expect(next.created).toBe(true);
    expect((await prisma.apiKey.findUniqueOrThrow({ where: { id: stored.id } })).revokedAt).not.toBeNull();
    expect((await prisma.apiKey.findUniqueOrThrow({ where: { hash: hashApiKey(next.key) } })).scopes).toContain("admin");
  } finally {
    await prisma.$disconnect();
  }
});
