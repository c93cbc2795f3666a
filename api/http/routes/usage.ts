import { Router } from "express";
import { z } from "zod";
import type { Authenticate } from "../../domain/authenticate.js";
import { InvalidRequestError } from "../../domain/errors.js";
import type { UsageReports } from "../../domain/usage-report.js";
import { principalOf, requireKey } from "../auth.js";
import type { UsageView } from "../schemas.js";

const DAY_MS = 24 * 3600 * 1000;
/** The most days one report covers, both ends included. */
export const MAX_USAGE_DAYS = 366;
/** Days before `to` that `from` defaults to: 30 days in all. */
const DEFAULT_DAYS = 30;

const day = (d: Date) => d.toISOString().slice(0, 10);

/** GET /v1/usage's query: UTC days, both included; `to` defaults to today, `from` to 29 days before `to`. */
export const usageQuery = z.object({
  from: z.iso.date().optional().describe("first UTC day (YYYY-MM-DD); default 29 days before `to`"),
  to: z.iso.date().optional().describe("last UTC day, included (YYYY-MM-DD); default today"),
  tenant: z.literal("all").optional().describe("`all`: every tenant's usage (needs `admin`); default the caller's tenant"),
}).transform((q) => {
  const to = q.to ?? day(new Date());
  const from = q.from ?? day(new Date(Date.parse(`${to}T00:00:00Z`) - (DEFAULT_DAYS - 1) * DAY_MS));
  return { from, to, allTenants: q.tenant === "all" };
}).superRefine((q, ctx) => {
  const days = (Date.parse(`${q.to}T00:00:00Z`) - Date.parse(`${q.from}T00:00:00Z`)) / DAY_MS + 1;
  if (days < 1) ctx.addIssue({ code: "custom", path: ["to"], message: "`to` is before `from`" });
  else if (days > MAX_USAGE_DAYS) ctx.addIssue({ code: "custom", path: ["to"], message: `the range covers ${days} days; at most ${MAX_USAGE_DAYS}` });
});

/** Usage per tenant per UTC day: `jobs:read` for the caller's tenant, `admin` with `tenant=all` for every tenant. */
export function usageRoutes(deps: { usage: UsageReports; auth: Authenticate }): Router {
  const router = Router();
  router.get("/v1/usage", requireKey(deps.auth, "jobs:read"), async (req, res) => {
    const parsed = usageQuery.safeParse(req.query);
    if (!parsed.success) {
      throw new InvalidRequestError("the query parameters are not valid", parsed.error.issues.map((i) => ({ path: i.path, code: i.code, message: i.message })));
    }
    const report = await deps.usage.report(principalOf(res), parsed.data);
    const view: UsageView = {
      from: report.from, to: report.to,
      items: report.items.map((r) => ({ tenant: r.tenant, day: r.day, jobs_succeeded: r.jobsSucceeded, run_seconds: r.runSeconds, gpu_seconds: r.gpuSeconds })),
    };
    res.json(view);
  });
  return router;
}
