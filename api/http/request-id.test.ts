import { describe, expect, it } from "vitest";
import { pino } from "pino";
import { withServer } from "../../test/support/serve.js";
import { Registry } from "../../common/metrics.js";
import { createApp, type AppDeps } from "../app.js";
import { JobEvents } from "../domain/job-events.js";

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

/** The app with a log kept in memory; nothing behind it is reached by these requests (health, no key). */
async function withApp(run: (url: string, lines: Record<string, unknown>[]) => Promise<void>): Promise<void> {
  const lines: Record<string, unknown>[] = [];
  const log = pino({ level: "info" }, { write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) });
  const app = createApp({ log, publicUrl: "http://api.test", events: new JobEvents(), metrics: new Registry(), inputBuckets: [], store: { uri: (k: string) => `s3://b/${k}` } } as unknown as AppDeps);
  await withServer(app, (url) => run(url, lines));
}

const handled = (lines: Record<string, unknown>[]) => lines.filter((l) => l.msg === "Request handled");

describe("X-Request-Id", () => {
  it("answers with the caller's well-formed id and logs it on the request's line", async () => {
    await withApp(async (url, lines) => {
      const res = await fetch(`${url}/openapi.json`, { headers: { "x-request-id": "client-42.a_b:c" } });
      expect(res.status).toBe(200);
      expect(res.headers.get("x-request-id")).toBe("client-42.a_b:c");
      await expect.poll(() => handled(lines).length).toBe(1);
      expect(handled(lines)[0]).toMatchObject({ requestId: "client-42.a_b:c", method: "GET", path: "/openapi.json", status: 200 });
    });
  });

  it("makes a new id for a request without one or with a malformed one, and puts it in problem bodies", async () => {
    await withApp(async (url, lines) => {
      const plain = await fetch(`${url}/openapi.json`);
      const bent = await fetch(`${url}/v1/jobs`, { headers: { "x-request-id": "two words\"} {" } });
      const [a, b] = [plain.headers.get("x-request-id")!, bent.headers.get("x-request-id")!];
      expect(a).toMatch(UUID);
      expect(b).toMatch(UUID);
      expect(a).not.toBe(b);
      expect(bent.status).toBe(401);
      expect(await bent.json()).toMatchObject({ status: 401, request_id: b });
      await expect.poll(() => handled(lines).length).toBe(2);
      expect(handled(lines).map((l) => l.requestId).sort()).toEqual([a, b].sort());
    });
  });
});
