import { Router, type Response } from "express";
import { isFinished } from "../../../common/job/phases.js";
import type { JobProgress } from "../../../common/job/progress.js";
import type { Logger } from "../../../common/logger.js";
import type { JobEvents } from "../../domain/job-events.js";
import type { JobQueries } from "../../domain/job-queries.js";
import type { JobRecord } from "../../domain/job-record.js";
import type { JobPresenter } from "../job-presenter.js";
import { isWaitingForWorker, POSITION_INTERVAL_MS } from "../../domain/queue-position.js";
import { placeOf, type JobQueue } from "../schemas.js";
import type { SseStreams } from "../sse-streams.js";
import type { Authenticate } from "../../domain/authenticate.js";
import { principalOf, requireKey } from "../auth.js";

export interface JobEventRoutesDeps {
  queries: JobQueries;
  presenter: JobPresenter;
  events: JobEvents;
  streams: SseStreams;
  keepaliveMs: number;
  /** Between reads of a waiting job's queue position; 5 s. */
  positionIntervalMs?: number;
  auth: Authenticate;
  log: Logger;
}

/**
 * GET /v1/jobs/:id/events: Server-Sent Events, `event: status` with the job as GET shows it,
 * first its current state and then each change the mirror sees, until it is finished or gone;
 * between them `event: progress` while a worker runs it (stage, step n of N, now and then a
 * preview), heard from the workers through Redis and never written anywhere; and while it waits
 * in its queue, `event: position` (the view's `queue`, or null once it left the queue) whenever
 * its place changed, read every few seconds.
 */
export function jobEventRoutes(deps: JobEventRoutesDeps): Router {
  const router = Router();
  router.get("/v1/jobs/:id/events", requireKey(deps.auth, "jobs:read"), async (req, res) => {
    const principal = principalOf(res);
    // Following first, then reading: a change landing in between is not lost. Only the
    // principal's namespace is heard: a UID of another tenant's job tells nothing.
    const pending: JobRecord[] = [];
    let deliver: (r: JobRecord) => void = (r) => pending.push(r);
    const uid = String(req.params.id).toLowerCase();
    const unsubscribeStatus = deps.events.subscribe(uid, (r) => {
      if (r.namespace === principal.namespace) deliver(r);
    });
    let deliverProgress: (p: JobProgress) => void = () => {};
    const unsubscribeProgress = deps.events.subscribeProgress(uid, (p) => {
      if (p.namespace === principal.namespace) deliverProgress(p);
    });
    const unsubscribe = () => {
      unsubscribeStatus();
      unsubscribeProgress();
    };
    // The client may leave while we read.
    res.on("close", unsubscribe);
    let current: JobRecord;
    try {
      current = await deps.queries.record(principal, String(req.params.id));
    } catch (err) {
      unsubscribe();
      throw err;
    }
    if (res.closed) return;
    const stream = new JobStream(res, deps);
    res.on("close", () => stream.close());
    stream.onClose(deps.streams.add(() => stream.close()));
    stream.onClose(unsubscribe);
    deliver = (r) => stream.push(r);
    deliverProgress = (p) => stream.pushProgress(p);
    stream.push(current);
    pending.forEach((r) => stream.push(r));
  });
  return router;
}

/** One client's stream: states in order, none older than one already sent, keepalives between. */
class JobStream {
  private chain = Promise.resolve();
  private sent: { version: bigint; deleted: boolean } | undefined;
  private closed = false;
  private readonly keepalive: NodeJS.Timeout;
  private readonly closers: Array<() => void> = [];
  /** The job while it waits in its queue, with the place last sent, read again on a timer. */
  private waiting: { record: JobRecord; place: string; timer: NodeJS.Timeout } | undefined;

  constructor(private readonly res: Response, private readonly deps: JobEventRoutesDeps) {
    res.status(200).set({
      "Content-Type": "text/event-stream; charset=utf-8",
      "Cache-Control": "no-cache, no-transform",
      Connection: "keep-alive",
      // nginx and similar proxies would otherwise hold events back in their buffers.
      "X-Accel-Buffering": "no",
    });
    res.flushHeaders();
    this.keepalive = setInterval(() => this.write(": keepalive\n\n"), deps.keepaliveMs);
  }

  onClose(fn: () => void): void {
    this.closers.push(fn);
  }

  push(record: JobRecord): void {
    this.chain = this.chain.then(() => this.send(record)).catch((err: unknown) => {
      this.deps.log.error({ job: record.uid, err }, "Could not send a job event");
      this.close();
    });
  }

  /** A worker's progress report: after the states already queued, and dropped once the stream ends. */
  pushProgress(progress: JobProgress): void {
    this.chain = this.chain.then(() => {
      const { uid: _uid, namespace: _namespace, ...view } = progress;
      this.write(`event: progress\ndata: ${JSON.stringify(view)}\n\n`);
    });
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.keepalive);
    clearInterval(this.waiting?.timer);
    this.closers.forEach((fn) => fn());
    this.res.end();
  }

  private async send(record: JobRecord): Promise<void> {
    if (this.closed || !this.isNews(record)) return;
    this.sent = { version: record.resourceVersion, deleted: record.deletedAt !== null };
    const view = await this.deps.presenter.view(record);
    this.write(`event: status\nid: ${record.resourceVersion}\ndata: ${JSON.stringify(view)}\n\n`);
    if (isFinished(record.phase) || record.deletedAt) return this.close();
    this.followPlace(record, view.queue);
  }

  /** While the job waits, its place is read again every few seconds and sent when it changed. */
  private followPlace(record: JobRecord, queue: JobQueue | null): void {
    if (!isWaitingForWorker(record.phase)) {
      clearInterval(this.waiting?.timer);
      this.waiting = undefined;
      return;
    }
    const timer = this.waiting?.timer ?? setInterval(() => this.checkPlace(), this.deps.positionIntervalMs ?? POSITION_INTERVAL_MS);
    this.waiting = { record, place: placeOf(queue), timer };
  }

  private checkPlace(): void {
    this.chain = this.chain.then(async () => {
      const waiting = this.waiting;
      if (this.closed || !waiting) return;
      const queue = await this.deps.presenter.queue(waiting.record);
      if (this.waiting !== waiting || placeOf(queue) === waiting.place) return;
      waiting.place = placeOf(queue);
      this.write(`event: position\ndata: ${JSON.stringify(queue)}\n\n`);
    }).catch((err: unknown) => this.deps.log.warn({ job: this.waiting?.record.uid, err }, "Could not send a queue position"));
  }

  private isNews(r: JobRecord): boolean {
    if (!this.sent) return true;
    return r.resourceVersion > this.sent.version || (r.resourceVersion === this.sent.version && r.deletedAt !== null && !this.sent.deleted);
  }

  private write(text: string): void {
    if (!this.closed) this.res.write(text);
  }
}
