import { describe, expect, it } from "vitest";
import type { AddressInfo } from "node:net";
import express from "express";
import { createLogger } from "../../common/logger.js";
import { RateLimitedError, TenantCapError } from "../domain/errors.js";
import { errorHandler } from "./problem.js";

/** A one-route app that fails with `err`, answered by the real error handler. */
async function answerTo(err: unknown): Promise<Response> {
  const app = express();
  app.get("/x", () => {
    throw err;
  });
  app.use(errorHandler(createLogger({ level: "silent" })));
  const server = app.listen(0);
  try {
    return await fetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}/x`);
  } finally {
    server.close();
  }
}

describe("errorHandler", () => {
  it("answers 503 problem+json with Retry-After when a dependency cannot be reached", async () => {
    const refused = Object.assign(new Error("request to https://127.0.0.1:6443 failed"), { code: "ECONNREFUSED" });
    for (const err of [refused, new Error("create failed", { cause: refused })]) {
      const res = await answerTo(err);
      expect(res.status).toBe(503);
      expect(res.headers.get("content-type")).toMatch(/^application\/problem\+json/);
      expect(res.headers.get("retry-after")).toBe("5");
      expect(await res.json()).toMatchObject({ status: 503, type: "https://pixelmill.io/problems/unavailable" });
    }
  });

  it("answers 429 with Retry-After past a rate limit or a tenant cap that waiting lifts, without for one it does not", async () => {
    const limited = await answerTo(new RateLimitedError(5, 42));
    expect(limited.status).toBe(429);
    expect(limited.headers.get("retry-after")).toBe("42");
    expect(await limited.json()).toMatchObject({ type: "https://pixelmill.io/problems/rate-limited", limit: 5 });

    const bytes = await answerTo(new TenantCapError("upload-bytes-per-day", 100, "over", 3600));
    expect(bytes.headers.get("retry-after")).toBe("3600");
    expect(await bytes.json()).toMatchObject({ status: 429, type: "https://pixelmill.io/problems/tenant-cap", cap: "upload-bytes-per-day", limit: 100 });

    const active = await answerTo(new TenantCapError("active-jobs", 3, "over"));
    expect(active.status).toBe(429);
    expect(active.headers.get("retry-after")).toBeNull();
    expect(await active.json()).toMatchObject({ cap: "active-jobs", limit: 3 });
  });

  it("keeps 500, without detail, for errors of its own", async () => {
    const res = await answerTo(new TypeError("undefined is not a function"));
    expect(res.status).toBe(500);
    expect(await res.json()).toMatchObject({ status: 500, detail: "the server could not handle the request; the error has been logged" });
  });
});
