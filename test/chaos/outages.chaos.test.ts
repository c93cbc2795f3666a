import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { chaosCase, expectAccounted, longAndSmall, nextSeed, noisePng, poll, post, sleep, SMALL_MODELS, submitSmall, untilReady } from "./cases.js";
import { isFinished } from "../../common/job/phases.js";
import { imageJobs } from "./accounting.js";
import { outage } from "./faults.js";
import { Platform } from "./platform.js";

/**
 * Outages of what the API stands on or is: S3 frozen, and the API process itself killed. Same rules
 * as faults.chaos.test.ts: every job accepted is accounted for, and the API's history agrees with
 * the ImageJobs afterwards.
 */
const platform = new Platform();
let medium: Buffer;

beforeAll(async () => {
  [medium] = await Promise.all([noisePng(1600, 1600, 9), platform.start()]);
});

afterAll(async () => {
  await platform.stop();
});

describe("outages", () => {
  it("S3 frozen for 40 s mid-burst: submits get 503 within seconds, workers take no jobs, and every job completes after", async ({ task }) => {
    await chaosCase(platform, task.meta, "S3 frozen 40 s mid-burst", async (run) => {
      await longAndSmall(platform, run, medium, 5);
      for (let i = 0; i < 4; i++) await run.submit("resize-x2", medium);
      await submitSmall(run, 10);
      const jobs = await imageJobs(platform);
      const unfinished = run.submitted.filter((s) => !isFinished(jobs.get(s.id)?.status?.phase)).length;
      const frozenAt = Date.now();
      const during = await outage("s3", async () => {
        const readyz = await poll("/readyz to answer 503", async () => {
          const res = await fetch(`${platform.apiUrl}/readyz`, { signal: AbortSignal.timeout(10_000) });
          return res.status === 503 ? ((await res.json()) as { checks: Record<string, string> }) : undefined;
        }, 20_000);
        const answers: { status: number; ms: number }[] = [];
        for (let i = 0; i < 5; i++) {
          const started = Date.now();
          const answer = await post(platform, SMALL_MODELS[i % 2]!, await noisePng(24, 16, nextSeed()));
          if (answer.job) run.submitted.push(answer.job);
          answers.push({ status: answer.status, ms: Date.now() - started });
        }
        await sleep(Math.max(0, 40_000 - (Date.now() - frozenAt)));
        return { readyz, answers };
      });
      const frozenMs = Date.now() - frozenAt;
      await untilReady(platform);
      await submitSmall(run, 10);
      const report = await run.settle();

      expect(during.readyz.checks.storage).not.toBe("ok");
      expect(during.answers.map((a) => a.status)).toEqual([503, 503, 503, 503, 503]);
      for (const a of during.answers) expect(a.ms).toBeLessThan(10_000);
      const paused = (await platform.workerLines()).filter((l) => l.msg === "Taking no jobs until storage answers again" && l.time >= frozenAt);
      expect(paused.length).toBeGreaterThan(0);
      expect(unfinished).toBeGreaterThan(0);
      run.report!.row.notes.push(
        `S3 frozen (SIGSTOP) for ${Math.round(frozenMs / 1000)} s with ${unfinished} jobs unfinished; /readyz said storage: ${during.readyz.checks.storage}; ` +
        `5 submits meanwhile answered ${during.answers.map((a) => `${a.status} in ${a.ms} ms`).join(", ")}; workers paused ${paused.length} times`,
      );
      expectAccounted(report);
      expect(report.row.succeeded).toBe(report.row.jobs);
    });
  }, 240_000);

  it("the API SIGKILLed mid-burst, and jobs deleted with kubectl while it is down: its history settles them all", async ({ task }) => {
    await chaosCase(platform, task.meta, "API SIGKILL mid-burst", async (run) => {
      await longAndSmall(platform, run, medium, 5);
      // Long jobs in every worker slot, so the burst behind them waits in the queue.
      for (let i = 0; i < 6; i++) await run.submit("resize-x2", medium);
      // A burst from 4 clients at once; the API dies while it is still coming in.
      let answered = 0;
      const refused: number[] = [];
      const client = async (c: number) => {
        for (let i = 0; i < 8; i++) {
          const answer = await post(platform, SMALL_MODELS[(c + i) % 2]!, await noisePng(24, 16, nextSeed()));
          if (answer.job) run.submitted.push(answer.job);
          else refused.push(answer.status);
          if (++answered === 16) await platform.kill("api", "SIGKILL");
        }
      };
      await Promise.all([0, 1, 2, 3].map(client));
      const deleted = await run.deleteWaiting(3);
      await sleep(3000); // jobs finish meanwhile: changes no API watches
      await platform.launch("api");
      const report = await run.settle();

      // The deleted jobs read canceled, saying why; a stream of one ends at once with that end.
      for (const d of deleted) {
        const res = await platform.apiFetch(`/v1/jobs/${d.id}/events`, { signal: AbortSignal.timeout(10_000) });
        const text = await res.text();
        expect(text).toMatch(/"status":"canceled"/);
        expect(report.byId.get(d.id)?.verdict).toBe("canceled");
      }
      run.report!.row.notes.push(
        `API killed after ${answered >= 16 ? 16 : answered} answers of a 32-job burst; ${refused.length} submits got no answer (${[...new Set(refused)].join(", ")}); ` +
        `${deleted.length} waiting jobs deleted with kubectl while it was down; history equal to the ImageJobs after it came back`,
      );
      expect(deleted.length).toBeGreaterThan(0);
      expectAccounted(report);
      expect(report.row.canceled).toBe(deleted.length);
      expect(report.row.succeeded).toBe(report.row.jobs - deleted.length);
      // And the API answers again.
      expect(await untilReady(platform, 30_000)).toBe(true);
    });
  });
});
