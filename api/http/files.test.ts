import { afterAll, beforeAll, expect, it } from "vitest";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import sharp from "sharp";
import { UrlSigner } from "../../common/storage/index.js";
import type { JobView } from "./job-presenter.js";
import { eventually, startApi, type ApiFixture } from "../../test/support/api-fixture.js";
import { runToSuccess } from "../../test/support/job-status.js";

const secret = "a-test-secret-that-is-long-enough-0123456789";
let api: ApiFixture;
let root: string;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), "pixelmill-api-files-"));
  api = await startApi("api-files", { fileStore: { root, secret } });
});
afterAll(async () => {
  await api?.stop();
  await rm(root, { recursive: true, force: true });
});

async function succeededWithOutput(name: string, bytes: Buffer): Promise<JobView> {
  const uid = (await api.createJob(name)).metadata.uid!;
  const put = await api.store.put(`outputs/${uid}/1.png`, bytes, { contentType: "image/png" });
  await eventually(async () => (await api.fetch(`${api.url}/v1/jobs/${uid}`)).ok, "the mirror");
  await runToSuccess(api, name, { uri: api.store.uri(put.key), contentType: "image/png", width: 2, height: 2, bytes: put.bytes });
  return eventually(async () => {
    const view = (await (await api.fetch(`${api.url}/v1/jobs/${uid}`)).json()) as JobView;
    return view.status === "succeeded" && view;
  }, "succeeded");
}

it("with a file:// store, signs output URLs that the API itself serves", async () => {
  const png = await sharp({ create: { width: 2, height: 2, channels: 4, background: "#ffffff80" } }).png().toBuffer();
  const view = await succeededWithOutput("file-output", png);
  const url = new URL(view.output!.url!);
  expect(`${url.origin}${url.pathname}`).toBe(`${api.url}/v1/files/outputs/${view.id}/1.png`);
  expect(url.searchParams.get("sig")).toMatch(/^[0-9a-f]{64}$/);
  const res = await fetch(url);
  expect(res.status).toBe(200);
  expect(res.headers.get("content-type")).toBe("image/png");
  expect(Buffer.from(await res.arrayBuffer()).equals(png)).toBe(true);
});

it("refuses a changed, expired or foreign signature with 403 problem", async () => {
  await api.store.put("outputs/x/secret.png", Buffer.from("x"));
  const good = new URL(await api.store.presignGet("outputs/x/secret.png", 60));
  const expired = new UrlSigner({ baseUrl: `${api.url}/v1/files`, secret, now: () => Date.now() - 3_600_000 }).sign("outputs/x/secret.png", 60);
  const foreign = new UrlSigner({ baseUrl: `${api.url}/v1/files`, secret: secret.toUpperCase() }).sign("outputs/x/secret.png", 60);
  const otherKey = `${api.url}/v1/files/outputs/x/other.png${good.search}`;
  const tampered = new URL(good);
  tampered.searchParams.set("expires", String(Number(good.searchParams.get("expires")) + 3600));
  for (const url of [expired, foreign, otherKey, tampered.href, `${api.url}/v1/files/outputs/x/secret.png`]) {
    const res = await fetch(url);
    expect(res.status, url).toBe(403);
    expect(res.headers.get("content-type")).toMatch(/^application\/problem\+json/);
  }
  expect((await fetch(good)).status).toBe(200);
});

it("answers 404 for a signed URL of an object that is not there", async () => {
  const res = await fetch(await api.store.presignGet("outputs/none/missing.png", 60));
  expect(res.status).toBe(404);
});

it("stores multipart uploads in the file store too", async () => {
  const png = await sharp({ create: { width: 1, height: 1, channels: 3, background: "#000000" } }).png().toBuffer();
  const body = new FormData();
  body.append("model", "resize-x2");
  body.append("image", new Blob([png]), "x.png");
  const res = await api.fetch(`${api.url}/v1/jobs`, { method: "POST", body });
  expect(res.status).toBe(202);
  const { id } = (await res.json()) as { id: string };
  const record = await api.jobs.get(api.namespace, id);
  const key = record!.inputUri!.replace(/^upload:/, "");
  expect((await readFile(join(root, key))).equals(png)).toBe(true);
});
