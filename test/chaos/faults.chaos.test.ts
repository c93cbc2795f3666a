import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CaseRun, chaosCase, expectAccounted, longAndSmall, nextSeed, noisePng, poll, post, sleep, SMALL_MODELS, starts, submitSmall, undecodablePng, untilReady } from "./cases.js";
import { outage } from "./faults.js";
import { FAILING_MODEL, Platform } from "./platform.js";

/**
 * The fault suite: the platform runs as separate processes (API, operator, two workers) on the
 * real parts; each case submits jobs over HTTP, injects one fault while they are in flight, waits
 * (bounded) until they are finished, and accounts for every one (accounting.ts).
 */
const platform = new Platform();
let big: Buffer;
let medium: Buffer;

beforeAll(async () => {
  // Large enough that upscaling takes seconds: a fault lands while such a job runs.
  [big, medium] = await Promise.all([noisePng(2400, 2400, 7), noisePng(1600, 1600, 8), platform.start()]);
});

afterAll(async () => {
  await platform.stop();
});

/** Submits a job that runs for a second or more and `n` small ones; resolves once a worker runs the long one. */
const inFlight = (run: CaseRun, n: number) => longAndSmall(platform, run, medium, n);

/** True once a worker logged the end of the job's attempt. */
async function ended(id: string): Promise<boolean> {
  return (await platform.workerLines()).some((l) => l.jobUid === id && (l.msg === "Job succeeded" || l.msg === "Job failed"));
}

describe("faults", () => {
  it("a worker killed with SIGKILL mid-job: its job runs again after stall detection and completes", async ({ task }) => {
    await chaosCase(platform, task.meta, "worker SIGKILL mid-job", async (run) => {
      const slow = await run.submit("resize-x2", big);
      await submitSmall(run, 20);
      const first = await poll("the slow job to start", async () => starts(await platform.workerLines(), slow.id)[0], 60_000);
      const victim = first.worker as "worker-1" | "worker-2";
      await platform.kill(victim, "SIGKILL");
      const killedAfterMs = Date.now() - first.time;
      await platform.launch(victim);
      const report = await run.settle();

      const job = report.byId.get(slow.id)!;
      expect(job.verdict).toBe("succeeded");
      expect(job.job?.status?.attempts).toBeGreaterThanOrEqual(2);
      // Mid-job: the killed process logged the start of the attempt and never its end.
      const lines = await platform.workerLines();
      expect(lines.filter((l) => l.pid === first.pid && l.jobUid === slow.id).map((l) => l.msg)).toEqual(["Job started"]);
      const runs = starts(lines, slow.id);
      const last = runs.at(-1)!;
      run.report!.row.notes.push(`the long job: ${victim} (pid ${String(first.pid)}) killed about ${killedAfterMs} ms into it; started ${runs.length} times, attempts ${job.job?.status?.attempts}, finished by ${last.worker} (pid ${String(last.pid)})`);
      expectAccounted(report);
      expect(report.row.succeeded).toBe(report.row.jobs);
    });
  });

  it("a model that throws, and an undecodable image: retried with growing backoff up to maxAttempts, and not retried", async ({ task }) => {
    await chaosCase(platform, task.meta, "model throws / bad image", async (run) => {
      const failing = [];
      const bad = [];
      for (let i = 0; i < 3; i++) failing.push(await run.submit(FAILING_MODEL, await noisePng(16, 16, nextSeed())));
      for (let i = 0; i < 3; i++) bad.push(await run.submit("grayscale", undecodablePng(i)));
      await submitSmall(run, 14);
      const report = await run.settle();
      const lines = await platform.workerLines();

      const gaps: number[][] = [];
      for (const f of failing) {
        const { job } = report.byId.get(f.id)!;
        const maxAttempts = job?.spec.maxAttempts ?? 3;
        expect(job?.status).toMatchObject({ phase: "Failed", reason: "InferenceError", attempts: maxAttempts });
        expect(job?.status?.message).toMatch(/onnxruntime.*Reshape/);
        const began = starts(lines, f.id).map((l) => l.time);
        const failed = lines.filter((l) => l.jobUid === f.id && l.msg === "Job failed").map((l) => l.time).sort((x, y) => x - y);
        expect(began).toHaveLength(maxAttempts);
        expect(failed).toHaveLength(maxAttempts);
        // The wait from a failed attempt to the next start: exponential backoff doubles it each time.
        const waits = began.slice(1).map((t, i) => t - failed[i]!);
        for (let i = 1; i < waits.length; i++) expect(waits[i]!).toBeGreaterThan(waits[i - 1]! * 1.5);
        gaps.push(waits);
      }
      for (const b of bad) {
        const { job } = report.byId.get(b.id)!;
        expect(job?.status).toMatchObject({ phase: "Failed", reason: "InvalidImage", attempts: 1 });
        expect(starts(lines, b.id)).toHaveLength(1);
      }
      run.report!.row.notes.push(
        `throwing model: ${failing.length} jobs Failed/InferenceError after ${report.byId.get(failing[0]!.id)?.job?.status?.attempts} attempts, waits between attempts ${gaps.map((g) => g.map((ms) => `${(ms / 1000).toFixed(1)} s`).join(" → ")).join("; ")}`,
        `undecodable image: ${bad.length} jobs Failed/InvalidImage after 1 attempt`,
      );
      expectAccounted(report);
      expect(report.row.failed).toBe(failing.length + bad.length);
    });
  });

  it("the operator killed and restarted mid-stream: it resyncs, enqueues nothing twice and forgets nothing", async ({ task }) => {
    await chaosCase(platform, task.meta, "operator SIGKILL + restart", async (run) => {
      const slow = await inFlight(run, 10);
      await platform.kill("operator", "SIGKILL");
      await submitSmall(run, 10); // while no operator runs
      // A job that ends while no operator runs: only the restarted one's resync can record it.
      await poll("the long job to end", async () => ((await ended(slow.id)) ? true : undefined), 60_000);
      await platform.launch("operator");
      await submitSmall(run, 10);
      const report = await run.settle();

      const enqueued = (await platform.logLines("operator")).filter((l) => l.msg === "Enqueued job");
      const lines = await platform.workerLines();
      for (const s of run.submitted) {
        expect(enqueued.filter((l) => l.jobUid === s.id).length).toBeLessThanOrEqual(1);
        expect(starts(lines, s.id)).toHaveLength(1); // ran once: one queue job per UID
        expect(report.byId.get(s.id)?.job?.status?.attempts).toBe(1);
      }
      run.report!.row.notes.push(`10 jobs submitted and 1 finished while no operator ran; each enqueued and run once`);
      expectAccounted(report);
      expect(report.row.succeeded).toBe(report.row.jobs);
    });
  });

  it("Redis restarted (append-only file kept): the operator and workers reconnect and go on", async ({ task }) => {
    await chaosCase(platform, task.meta, "Redis restart", async (run) => {
      await inFlight(run, 15);
      const down = Date.now();
      // A submit the API cannot keep (Redis found down by its checks) is refused with 503; one
      // accepted before it noticed is enqueued once Redis is back.
      const answers = await outage("redis", async () => {
        const statuses: number[] = [];
        for (let i = 0; i < 5; i++) {
          const answer = await post(platform, SMALL_MODELS[i % 2]!, await noisePng(24, 16, nextSeed()));
          if (answer.job) run.submitted.push(answer.job);
          statuses.push(answer.status);
        }
        await sleep(1500);
        return statuses;
      });
      const downMs = Date.now() - down;
      expect(answers.every((s) => s === 202 || s === 503)).toBe(true);
      await untilReady(platform);
      await submitSmall(run, 10);
      const report = await run.settle();
      // The append-only file kept every queue job: nothing had to be enqueued again.
      const enqueued = (await platform.logLines("operator")).filter((l) => l.msg === "Enqueued job");
      for (const s of run.submitted) expect(enqueued.filter((l) => l.jobUid === s.id).length).toBeLessThanOrEqual(1);
      const accepted = answers.filter((s) => s === 202).length;
      run.report!.row.notes.push(`Redis down for ${downMs} ms while a long job ran; of 5 submits meanwhile ${accepted} accepted, ${5 - accepted} refused with 503; each enqueued once`);
      expectAccounted(report);
      expect(report.row.succeeded).toBe(report.row.jobs);
    });
  });

  it("kube-apiserver restarted (etcd kept): informers relist, statuses and the Postgres mirror catch up", async ({ task }) => {
    await chaosCase(platform, task.meta, "kube-apiserver restart", async (run) => {
      const slow = await inFlight(run, 15);
      const down = Date.now();
      const answer = await outage("apiserver", async () => {
        // No ImageJob can be created: the API must say so rather than accept a job it cannot keep.
        const refused = await post(platform, "grayscale", await noisePng(8, 8, nextSeed()));
        if (refused.job) run.submitted.push(refused.job);
        await sleep(2000);
        return refused;
      });
      const downMs = Date.now() - down;
      expect(answer.status).toBe(503); // problem+json "unavailable", with Retry-After
      await untilReady(platform);
      await submitSmall(run, 15);
      const report = await run.settle();
      run.report!.row.notes.push(`kube-apiserver down for ${downMs} ms while a long job ran (attempts ${report.byId.get(slow.id)?.job?.status?.attempts}); a submit meanwhile was answered ${answer.status}`);
      expectAccounted(report);
      expect(report.row.succeeded).toBe(report.row.jobs);
    });
  });

  it("Postgres restarted: /readyz says 503 while it is down, and the mirror catches up after", async ({ task }) => {
    await chaosCase(platform, task.meta, "Postgres restart", async (run) => {
      await inFlight(run, 15);
      let accepted = 0;
      // API keys are checked in Postgres (ADR 0007): with it down, a submit is refused as unavailable, never a 500.
      const refusedWith: number[] = [];
      const whileDown = await outage("postgres", async () => {
        const readyz = await poll("/readyz to answer 503", async () => {
          const res = await fetch(`${platform.apiUrl}/readyz`);
          return res.status === 503 ? ((await res.json()) as { checks: Record<string, string> }) : undefined;
        }, 15_000);
        for (let i = 0; i < 5; i++) {
          const answer = await post(platform, SMALL_MODELS[i % 2]!, await noisePng(24, 16, nextSeed()));
          if (answer.job) {
            run.submitted.push(answer.job);
            accepted++;
          } else refusedWith.push(answer.status);
        }
        await sleep(2000); // jobs finish meanwhile: status changes the mirror cannot write yet
        return readyz;
      });
      expect(whileDown.checks.postgres).toBe("unavailable");
      expect(refusedWith.filter((status) => status !== 503)).toEqual([]);
      expect(await untilReady(platform)).toBe(true);
      await submitSmall(run, 10);
      const report = await run.settle(); // accounting waits for the mirror to equal the ImageJobs
      run.report!.row.notes.push(`/readyz answered 503 (postgres: ${whileDown.checks.postgres}) while down; submits meanwhile: ${accepted} accepted, ${refusedWith.length} refused (${refusedWith.join(", ") || "-"}); mirror equal to the ImageJobs after`);
      expectAccounted(report);
      expect(report.row.succeeded).toBe(report.row.jobs);
    });
  });
});
