import { afterAll, beforeAll, describe, expect, it } from "vitest";
import sharp from "sharp";
import { GROUP, IMAGEJOB_PLURAL, VERSION, type ImageJob, type ImageJobList } from "../../common/crd-types.js";
import { uniqueName } from "../../test/support/env.js";
import { startApi, type ApiFixture } from "../../test/support/api-fixture.js";

let api: ApiFixture;
let png: Buffer;
let otherPng: Buffer;

beforeAll(async () => {
  api = await startApi("api-idempotency");
  png = await sharp({ create: { width: 4, height: 3, channels: 3, background: "#c04020" } }).png().toBuffer();
  otherPng = await sharp({ create: { width: 4, height: 3, channels: 3, background: "#2040c0" } }).png().toBuffer();
});
afterAll(async () => api?.stop());

async function imageJobs(): Promise<ImageJob[]> {
  const list = (await api.custom.listNamespacedCustomObject({ group: GROUP, version: VERSION, namespace: api.namespace, plural: IMAGEJOB_PLURAL })) as ImageJobList;
  return list.items;
}

const body = (extra: Record<string, unknown> = {}) => ({ model: "resize-x2", input: { uri: "s3://pixelmill/inputs/cat.png" }, params: { strength: 0.5 }, ...extra });
const postJson = (key: string | undefined, json: unknown) =>
  api.fetch(`${api.url}/v1/jobs`, { method: "POST", body: JSON.stringify(json), headers: { "content-type": "application/json", ...(key === undefined ? {} : { "idempotency-key": key }) } });

function postForm(key: string, image: Buffer, fields: Record<string, string> = { model: "resize-x2" }): Promise<Response> {
  const form = new FormData();
  for (const [k, v] of Object.entries(fields)) form.append(k, v);
  form.append("image", new Blob([image], { type: "image/png" }), "cat.png");
  return api.fetch(`${api.url}/v1/jobs`, { method: "POST", body: form, headers: { "idempotency-key": key } });
}

async function problem(res: Response, status: number, type: string): Promise<void> {
  expect(res.status).toBe(status);
  expect(res.headers.get("content-type")).toMatch(/^application\/problem\+json/);
  expect(await res.json()).toMatchObject({ type: `https://pixelmill.io/problems/${type}`, status });
}

describe("POST /v1/jobs with Idempotency-Key", () => {
  it("answers a retry with the same job: one ImageJob, same Location and body", async () => {
    const key = uniqueName("retry");
    const first = await postJson(key, body({ startDeadlineSeconds: 600 }));
    expect(first.status).toBe(202);
    const firstBody = (await first.json()) as { id: string };
    const second = await postJson(key, body({ startDeadlineSeconds: 600 }));
    expect(second.status).toBe(202);
    expect(second.headers.get("idempotent-replayed")).toBe("true");
    expect(first.headers.get("idempotent-replayed")).toBeNull();
    expect(second.headers.get("location")).toBe(first.headers.get("location"));
    expect(await second.json()).toEqual(firstBody);
    const mine = (await imageJobs()).filter((j) => j.metadata.uid === firstBody.id);
    expect(mine).toHaveLength(1);
    expect(mine[0]!.spec.startDeadlineSeconds).toBe(600);
    // Without the key, the same body is another job.
    const third = (await (await postJson(undefined, body({ startDeadlineSeconds: 600 }))).json()) as { id: string };
    expect(third.id).not.toBe(firstBody.id);
  });

  it("refuses the same key with another request with 422, creating nothing", async () => {
    const key = uniqueName("reuse");
    expect((await postJson(key, body())).status).toBe(202);
    const before = (await imageJobs()).length;
    await problem(await postJson(key, body({ params: { strength: 0.75 } })), 422, "idempotency-key-reused");
    await problem(await postJson(key, body({ output: { format: "webp" } })), 422, "idempotency-key-reused");
    expect((await imageJobs()).length).toBe(before);
  });

  it("creates one ImageJob for 10 concurrent requests with one key", async () => {
    const key = uniqueName("burst");
    const before = (await imageJobs()).length;
    const answers = await Promise.all(Array.from({ length: 10 }, () => postJson(key, body())));
    expect(answers.map((r) => r.status)).toEqual(Array(10).fill(202));
    const ids = new Set(await Promise.all(answers.map(async (r) => ((await r.json()) as { id: string }).id)));
    expect(ids.size).toBe(1);
    expect((await imageJobs()).length).toBe(before + 1);
    expect(answers.filter((r) => r.headers.get("idempotent-replayed") === null)).toHaveLength(1);
  });

  it("compares uploads by their bytes: the same image is a retry (its copy deleted), another one a 422", async () => {
    const key = uniqueName("upload");
    const first = await postForm(key, png);
    expect(first.status).toBe(202);
    const { id } = (await first.json()) as { id: string };
    const keys = await api.listKeys();
    const retry = await postForm(key, png);
    expect(retry.status).toBe(202);
    expect(((await retry.json()) as { id: string }).id).toBe(id);
    await problem(await postForm(key, otherPng), 422, "idempotency-key-reused");
    await problem(await postForm(key, png, { model: "resize-x2", output_format: "webp" }), 422, "idempotency-key-reused");
    expect(await api.listKeys()).toEqual(keys); // the refused and replayed uploads are gone
    expect((await imageJobs()).filter((j) => j.metadata.uid === id)).toHaveLength(1);
  });

  it("ignores a key older than 24 hours", async () => {
    const key = uniqueName("old");
    const { id } = (await (await postJson(key, body())).json()) as { id: string };
    await api.prisma.idempotencyKey.update({ where: { namespace_key: { namespace: api.namespace, key } }, data: { createdAt: new Date(Date.now() - 25 * 3600_000) } });
    const later = await postJson(key, body({ params: { strength: 0.1 } }));
    expect(later.status).toBe(202);
    expect(later.headers.get("idempotent-replayed")).toBeNull();
    expect(((await later.json()) as { id: string }).id).not.toBe(id);
    expect(await api.idempotencyKeys.prune(new Date(Date.now() + 1000))).toBeGreaterThanOrEqual(1);
  });

  it.each([
    ["empty", ""],
    ["too long", "k".repeat(256)],
    ["not ASCII", "clé"],
  ])("refuses a key that is %s with 400", async (_, key) => {
    const before = (await imageJobs()).length;
    const res = await api.fetch(`${api.url}/v1/jobs`, {
      method: "POST", body: JSON.stringify(body()), headers: { "content-type": "application/json", "idempotency-key": Buffer.from(key, "utf8").toString("latin1") },
    });
    await problem(res, 400, "invalid-request");
    expect((await imageJobs()).length).toBe(before);
  });
});
