import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Ajv2020 } from "ajv/dist/2020.js";
import sharp from "sharp";
import { createLogger } from "../../common/logger.js";
import { createApp, type AppDeps } from "../app.js";
import { JobEvents } from "../domain/job-events.js";
import { startApi, type ApiFixture } from "../../test/support/api-fixture.js";
import { builtinModel } from "../../models/builtin.js";
import { openApiDocument } from "./openapi.js";

type Doc = {
  openapi: string;
  paths: Record<string, Record<string, { responses: Record<string, { $ref?: string; content?: Record<string, { schema: { $ref?: string } }> }>; security: unknown[] }>>;
  components: { responses: Record<string, { content: Record<string, { schema: { $ref?: string } }> }> };
};

let api: ApiFixture;
let doc: Doc;
const ajv = new Ajv2020({ strict: false, allErrors: true, validateFormats: false });

beforeAll(async () => {
  api = await startApi("openapi");
  // The document as the API serves it, without a key.
  const res = await fetch(`${api.url}/openapi.json`);
  expect(res.status).toBe(200);
  doc = (await res.json()) as Doc;
  ajv.addSchema(doc, "openapi");
});
afterAll(async () => api?.stop());

interface Layer {
  route?: { path: string; methods: Record<string, boolean> };
  handle?: { stack?: Layer[] };
}

/** Every method and path the express app registers, in OpenAPI's form (`{id}` for `:id` and `*key`). */
function registeredRoutes(): string[] {
  const app = createApp({ log: createLogger({ level: "silent" }), publicUrl: "http://api.test", events: new JobEvents(), store: api.store } as unknown as AppDeps);
  const found: string[] = [];
  const walk = (stack: Layer[]) => {
    for (const layer of stack) {
      if (layer.route) {
        const path = layer.route.path.replace(/[:*](\w+)/g, "{$1}");
        for (const [method, on] of Object.entries(layer.route.methods)) if (on && method !== "_all") found.push(`${method} ${path}`);
      } else if (layer.handle?.stack) walk(layer.handle.stack);
    }
  };
  walk((app as unknown as { router: { stack: Layer[] } }).router.stack);
  return found.sort();
}

/** Checks a real answer against the schema the document gives for its path, method and status. */
async function expectDocumented(res: Response, path: string, method: string): Promise<unknown> {
  const body: unknown = await res.json();
  let response = doc.paths[path]?.[method]?.responses[String(res.status)];
  expect(response, `${method} ${path} ${res.status} is documented`).toBeDefined();
  if (response?.$ref) response = doc.components.responses[response.$ref.split("/").pop()!];
  const type = res.headers.get("content-type")!.split(";")[0]!;
  const schema = response!.content?.[type]?.schema;
  expect(schema, `${method} ${path} ${res.status} documents ${type}`).toBeDefined();
  const validate = ajv.getSchema(`openapi${schema!.$ref}`)!;
  expect(validate(body), JSON.stringify(validate.errors)).toBe(true);
  return body;
}

describe("the OpenAPI document", () => {
  it("is OpenAPI 3.1, with a Bearer scheme and a scope on every keyed route", () => {
    expect(doc.openapi).toMatch(/^3\.1\.\d+$/);
    expect(doc).toMatchObject({ components: { securitySchemes: { bearer: { type: "http", scheme: "bearer" } } } });
    expect(doc.paths["/v1/jobs"]?.post?.security).toEqual([{ bearer: ["jobs:write"] }]);
    expect(doc.paths["/healthz"]?.get?.security).toEqual([]);
    expect(openApiDocument()).toMatchObject({ openapi: doc.openapi });
  });

  it("lists every route the app registers, and no other", () => {
    const documented = Object.entries(doc.paths).flatMap(([path, ops]) => Object.keys(ops).map((method) => `${method} ${path}`)).sort();
    expect(registeredRoutes().length).toBeGreaterThan(10);
    expect(documented).toEqual(registeredRoutes());
  });

  it("describes the real answers: 202 submit, 200 get, list and models, 400, 401, 403 and 404 problems", async () => {
    const png = await sharp({ create: { width: 4, height: 4, channels: 3, background: "#808080" } }).png().toBuffer();
    const form = new FormData();
    form.set("model", "resize-x2");
    form.set("image", new Blob([png]), "cat.png");
    const submitted = await api.fetch(`${api.url}/v1/jobs`, { method: "POST", body: form });
    expect(submitted.status).toBe(202);
    const { id } = (await expectDocumented(submitted, "/v1/jobs", "post")) as { id: string };

    const got = await api.fetch(`${api.url}/v1/jobs/${id}`);
    expect(got.status).toBe(200);
    await expectDocumented(got, "/v1/jobs/{id}", "get");
    const list = await api.fetch(`${api.url}/v1/jobs?limit=5`);
    expect(list.status).toBe(200);
    expect(((await expectDocumented(list, "/v1/jobs", "get")) as { items: unknown[] }).items.length).toBeGreaterThan(0);
    const models = await api.fetch(`${api.url}/v1/models`);
    expect(models.status).toBe(200);
    await expectDocumented(models, "/v1/models", "get");

    const unknown = await api.fetch(`${api.url}/v1/jobs/00000000-0000-0000-0000-000000000000`);
    expect(unknown.status).toBe(404);
    await expectDocumented(unknown, "/v1/jobs/{id}", "get");
    const noKey = await fetch(`${api.url}/v1/jobs`, { headers: { authorization: "Bearer nope" } });
    expect(noKey.status).toBe(401);
    await expectDocumented(noKey, "/v1/jobs", "get");
    const bad = await api.fetch(`${api.url}/v1/jobs?limit=0`);
    expect(bad.status).toBe(400);
    expect(await expectDocumented(bad, "/v1/jobs", "get")).toMatchObject({ errors: [{ path: ["limit"] }] });
    const readOnly = await api.newKey(["jobs:read"]);
    const forbidden = await fetch(`${api.url}/v1/keys`, { headers: { authorization: `Bearer ${readOnly.key}` } });
    expect(forbidden.status).toBe(403);
    await expectDocumented(forbidden, "/v1/keys", "get");
  });

  /** GETs `path`, expects `status`, and checks the answer against the document's `route`. */
  const getDocumented = async (path: string, status: number, route: string) => {
    const res = await api.fetch(`${api.url}${path}`);
    expect(res.status).toBe(status);
    return expectDocumented(res, route, "get");
  };
  const submitJson = (job: unknown) => api.fetch(`${api.url}/v1/jobs`, { method: "POST", body: JSON.stringify(job), headers: { "content-type": "application/json" } });

  it("describes GET /v1/me (any key) and the output download's 409", async () => {
    expect(doc.paths["/v1/me"]?.get?.security).toEqual([{ bearer: [] }]);
    const me = await api.fetch(`${api.url}/v1/me`);
    expect(me.status).toBe(200);
    await expectDocumented(me, "/v1/me", "get");
    const { id } = (await (await submitJson({ model: "resize-x2", input: { uri: "https://images.example.com/cat.png" } })).json()) as { id: string };
    await getDocumented(`/v1/jobs/${id}/output`, 409, "/v1/jobs/{id}/output");
    await getDocumented(`/v1/jobs/${id}/input`, 404, "/v1/jobs/{id}/input");
  });

  it("describes the batch answers: 202 submit, 200 get with counts, 200 items, 409 manifest", async () => {
    const submitted = await submitJson({ model: "resize-x2", batch: { inputs: [`upload:uploads/${api.namespace}/a.png`, `upload:uploads/${api.namespace}/b.png`] } });
    expect(submitted.status).toBe(202);
    const { id } = (await expectDocumented(submitted, "/v1/jobs", "post")) as { id: string };
    expect(await expectDocumented(await api.fetch(`${api.url}/v1/jobs/${id}`), "/v1/jobs/{id}", "get")).toMatchObject({ batch: { total: 2 } });
    await getDocumented(`/v1/jobs/${id}/items`, 200, "/v1/jobs/{id}/items");
    await getDocumented(`/v1/jobs/${id}/manifest`, 409, "/v1/jobs/{id}/manifest");
  });

  it("describes the key answers: 201 create, 200 list and revoke", async () => {
    const admin = { authorization: `Bearer ${api.adminKey}` };
    const created = await fetch(`${api.url}/v1/keys`, { method: "POST", headers: { ...admin, "content-type": "application/json" }, body: JSON.stringify({ name: "ci", scopes: ["jobs:read"] }) });
    expect(created.status).toBe(201);
    const { id } = (await expectDocumented(created, "/v1/keys", "post")) as { id: string };
    await expectDocumented(await fetch(`${api.url}/v1/keys`, { headers: admin }), "/v1/keys", "get");
    const rotated = await fetch(`${api.url}/v1/keys/${id}/rotate`, { method: "POST", headers: admin });
    expect(rotated.status).toBe(201);
    const { id: newId } = (await expectDocumented(rotated, "/v1/keys/{id}/rotate", "post")) as { id: string };
    const again = await fetch(`${api.url}/v1/keys/${id}/rotate`, { method: "POST", headers: admin });
    expect(again.status).toBe(409);
    await expectDocumented(again, "/v1/keys/{id}/rotate", "post");
    await expectDocumented(await fetch(`${api.url}/v1/keys/${newId}`, { method: "DELETE", headers: admin }), "/v1/keys/{id}", "delete");
  });

  it("describes the tenant answers: 201 create, 200 list, limits and disable, 400, 404 and 409", async () => {
    const admin = { authorization: `Bearer ${api.adminKey}` };
    const json = { ...admin, "content-type": "application/json" };
    const created = await fetch(`${api.url}/v1/tenants`, { method: "POST", headers: json, body: JSON.stringify({ name: `oa-${Date.now().toString(36)}` }) });
    expect(created.status).toBe(201);
    const { name } = (await expectDocumented(created, "/v1/tenants", "post")) as { name: string };
    const patched = await fetch(`${api.url}/v1/tenants/${name}`, { method: "PATCH", headers: json, body: JSON.stringify({ limits: { rate_limit_per_minute: 50, max_active_jobs: null } }) });
    expect(patched.status).toBe(200);
    await expectDocumented(patched, "/v1/tenants/{name}", "patch");
    const bad = await fetch(`${api.url}/v1/tenants/${name}`, { method: "PATCH", headers: json, body: JSON.stringify({ limits: { rate_limit_per_minute: 0 } }) });
    expect(bad.status).toBe(400);
    await expectDocumented(bad, "/v1/tenants/{name}", "patch");
    const disabled = await fetch(`${api.url}/v1/tenants/${name}`, { method: "DELETE", headers: admin });
    expect(disabled.status).toBe(200);
    await expectDocumented(disabled, "/v1/tenants/{name}", "delete");
    const platform = await fetch(`${api.url}/v1/tenants/platform`, { method: "DELETE", headers: admin });
    expect(platform.status).toBe(409);
    await expectDocumented(platform, "/v1/tenants/{name}", "delete");
    const unknown = await fetch(`${api.url}/v1/tenants/no-such-tenant`, { method: "DELETE", headers: admin });
    expect(unknown.status).toBe(404);
    await expectDocumented(unknown, "/v1/tenants/{name}", "delete");
    const listed = await fetch(`${api.url}/v1/tenants`, { headers: admin });
    expect(((await expectDocumented(listed, "/v1/tenants", "get")) as { items: Array<{ name: string; disabled_at: string | null }> }).items)
      .toContainEqual(expect.objectContaining({ name, disabled_at: expect.any(String) as string }));
  });

  it("describes the model answers: 201 add (multipart), 409, 422 and the ModelForm body", async () => {
    const admin = { authorization: `Bearer ${api.adminKey}` };
    const form = (name: string, bytes: Uint8Array) => {
      const f = new FormData();
      f.set("name", name);
      f.set("task", "image-to-image");
      f.set("contract", JSON.stringify({ input: { range: { min: 0, max: 1 } }, output: { kind: "image" } }));
      f.set("file", new Blob([new Uint8Array(bytes)]), "model.onnx");
      return f;
    };
    const gray = (await builtinModel("grayscale"))!;
    const added = await fetch(`${api.url}/v1/models`, { method: "POST", headers: admin, body: form("oa-gray", gray) });
    expect(added.status).toBe(201);
    expect(await expectDocumented(added, "/v1/models", "post")).toMatchObject({ name: "oa-gray" });
    const taken = await fetch(`${api.url}/v1/models`, { method: "POST", headers: admin, body: form("oa-gray", gray) });
    expect(taken.status).toBe(409);
    await expectDocumented(taken, "/v1/models", "post");
    const junk = await fetch(`${api.url}/v1/models`, { method: "POST", headers: admin, body: form("oa-junk", new Uint8Array(64)) });
    expect(junk.status).toBe(422);
    await expectDocumented(junk, "/v1/models", "post");
    const body = (doc.paths["/v1/models"]!.post as unknown as { requestBody: { content: Record<string, { schema: { properties: Record<string, unknown>; required: string[] } }> } }).requestBody;
    const multipart = body.content["multipart/form-data"]!.schema;
    expect(Object.keys(multipart.properties)).toEqual(expect.arrayContaining(["file", "model.json", "shard", "name", "task", "contract", "license", "origin"]));
    expect(multipart.required.sort()).toEqual(["contract", "name", "task"]);
  });

  it("describes the usage answers: 200 and 400", async () => {
    const usage = await api.fetch(`${api.url}/v1/usage?from=2026-01-01&to=2026-01-31`);
    expect(usage.status).toBe(200);
    await expectDocumented(usage, "/v1/usage", "get");
    const all = await fetch(`${api.url}/v1/usage?tenant=all`, { headers: { authorization: `Bearer ${api.adminKey}` } });
    expect(all.status).toBe(200);
    await expectDocumented(all, "/v1/usage", "get");
    const bad = await api.fetch(`${api.url}/v1/usage?from=2026-02-01&to=2026-01-01`);
    expect(bad.status).toBe(400);
    await expectDocumented(bad, "/v1/usage", "get");
  });
});
