import type { RawData, WebSocket } from "ws";
import { isFinished, type ImageJobPhase } from "../../../common/job/phases.js";
import type { JobProgress } from "../../../common/job/progress.js";
import type { Logger } from "../../../common/logger.js";
import { isUuid } from "../../domain/cursor.js";
import type { JobEvents } from "../../domain/job-events.js";
import type { JobRecord } from "../../domain/job-record.js";
import type { Principal } from "../../domain/principal.js";
import { isWaitingForWorker, POSITION_INTERVAL_MS } from "../../domain/queue-position.js";
import type { JobPresenter } from "../job-presenter.js";
import { placeOf, type JobQueue } from "../schemas.js";
import {
  CLOSE, clientMessageSchema, MAX_BAD_MESSAGES, MAX_BUFFERED_BYTES, MAX_RESUMED_JOBS, MAX_SUBSCRIBED_JOBS, type ClientMessage, type ServerMessage,
} from "./protocol.js";

/** The jobs' states in Postgres, for catching up (api/data/job-repository.ts). */
export interface JobChanges {
  changedSince(q: { namespace: string; after: bigint; uids?: readonly string[]; limit: number }): Promise<JobRecord[]>;
}

export interface JobSocketDeps {
  events: JobEvents;
  jobs: JobChanges;
  presenter: Pick<JobPresenter, "view" | "queue">;
  log: Logger;
  /** Between reads of the places of waiting jobs followed by id; 5 s. */
  positionIntervalMs?: number;
}

/** Rows read per query of a resume. */
const PAGE = 500;
/** Jobs whose last sent state is remembered (to drop older and repeated ones); the oldest are forgotten past it. */
const REMEMBERED = 10_000;

/**
 * One WebSocket client: its subscriptions (jobs by id, or every job of its tenant) and what is
 * sent to it, in order, on one chain. As the SSE route does, it follows first and reads Postgres
 * after, so a change landing in between is sent; a state older than one already sent is dropped.
 */
export class JobSocket {
  private chain = Promise.resolve();
  /** Jobs followed by id, with the function that stops following each. */
  private readonly named = new Map<string, () => void>();
  private all: (() => void) | undefined;
  private readonly sent = new Map<string, { version: bigint; phase: ImageJobPhase }>();
  private bad = 0;
  private closed = false;
  /** Jobs followed by id that wait in their queues, with the place last sent; read again on one timer. */
  private readonly waiting = new Map<string, { record: JobRecord; place: string }>();
  private placeTimer: NodeJS.Timeout | undefined;

  constructor(private readonly ws: WebSocket, private readonly principal: Principal, private readonly deps: JobSocketDeps) {
    ws.on("message", (data, isBinary) => this.receive(data, isBinary));
    ws.on("close", () => this.dispose());
  }

  private receive(data: RawData, isBinary: boolean): void {
    if (this.closed) return;
    if (isBinary) return this.refuse("send JSON text frames");
    let json: unknown;
    try {
      json = JSON.parse(textOf(data));
    } catch {
      return this.refuse("the message is not JSON");
    }
    const parsed = clientMessageSchema.safeParse(json);
    if (!parsed.success) {
      const detail = parsed.error.issues.map((i) => (i.path.length ? `${i.path.join(".")}: ${i.message}` : i.message)).join("; ");
      return this.refuse(`not a message this server takes (subscribe or unsubscribe, with jobs or all): ${detail}`);
    }
    const m = parsed.data;
    if (m.type === "subscribe") this.subscribe(m);
    else this.unsubscribe(m);
  }

  private subscribe(m: Extract<ClientMessage, { type: "subscribe" }>): void {
    if (m.all) {
      this.all ??= this.deps.events.subscribeNamespace(this.principal.namespace, (r) => this.push(r), (p) => this.pushProgress(p));
      this.enqueue(async () => {
        if (m.since !== undefined) await this.resume(BigInt(m.since));
        this.write({ type: "subscribed", all: true });
      });
      return;
    }
    const asked = [...new Set(m.jobs!.map((id) => id.toLowerCase()))];
    const fresh = asked.filter((id) => isUuid(id) && !this.named.has(id));
    if (this.named.size + fresh.length > MAX_SUBSCRIBED_JOBS) {
      return this.refuse(`a connection follows at most ${MAX_SUBSCRIBED_JOBS} jobs by id (${this.named.size} now): unsubscribe some, or subscribe to all`);
    }
    // Following first, then reading. Only the principal's namespace is heard: another tenant's UID is not found.
    for (const uid of fresh) this.named.set(uid, this.followOne(uid));
    this.enqueue(async () => {
      const ids = asked.filter((id) => this.named.has(id));
      const found = ids.length ? await this.deps.jobs.changedSince({ namespace: this.principal.namespace, after: 0n, uids: ids, limit: ids.length }) : [];
      for (const record of found) await this.send(record);
      const known = new Set(found.map((r) => r.uid));
      const missing = asked.filter((id) => !known.has(id));
      // Unknown, another tenant's, or finished (its end sent now or before): nothing more to follow.
      for (const uid of [...missing, ...found.filter((r) => isFinished(r.phase)).map((r) => r.uid)]) this.stopFollowing(uid);
      this.write({ type: "subscribed", jobs: asked.filter((id) => known.has(id)), ...(missing.length ? { not_found: missing } : {}) });
    });
  }

  private unsubscribe(m: Extract<ClientMessage, { type: "unsubscribe" }>): void {
    if (m.all) {
      this.all?.();
      this.all = undefined;
    } else {
      for (const id of m.jobs!) this.stopFollowing(id.toLowerCase());
    }
  }

  private followOne(uid: string): () => void {
    const { namespace } = this.principal;
    // While the connection follows all of the tenant's jobs, those deliver; these would repeat them.
    const status = this.deps.events.subscribe(uid, (r) => {
      if (r.namespace === namespace && !this.all) this.push(r);
    });
    const progress = this.deps.events.subscribeProgress(uid, (p) => {
      if (p.namespace === namespace && !this.all) this.pushProgress(p);
    });
    return () => {
      status();
      progress();
    };
  }

  private stopFollowing(uid: string): void {
    this.named.get(uid)?.();
    this.named.delete(uid);
    this.followPlace(uid, undefined);
  }

  /**
   * Jobs followed by id only: a subscription to all of a tenant's jobs gets each place in their
   * status events, not a read of every waiting job every few seconds.
   */
  private followPlace(uid: string, waiting: { record: JobRecord; queue: JobQueue | null } | undefined): void {
    if (waiting && this.named.has(uid) && isWaitingForWorker(waiting.record.phase)) {
      this.waiting.set(uid, { record: waiting.record, place: placeOf(waiting.queue) });
      this.placeTimer ??= setInterval(() => this.checkPlaces(), this.deps.positionIntervalMs ?? POSITION_INTERVAL_MS);
    } else {
      this.waiting.delete(uid);
    }
    if (this.waiting.size === 0) this.stopPlaces();
  }

  private stopPlaces(): void {
    clearInterval(this.placeTimer);
    this.placeTimer = undefined;
  }

  private checkPlaces(): void {
    this.enqueue(async () => {
      const entries = [...this.waiting];
      // Concurrent: one round trip each, pipelined on the one connection.
      const queues = await Promise.all(entries.map(([, w]) => this.deps.presenter.queue(w.record)));
      entries.forEach(([uid, w], i) => {
        const queue = queues[i]!;
        // Dropped or replaced by a newer state while reading: that state's event said it.
        if (this.waiting.get(uid) !== w || placeOf(queue) === w.place) return;
        w.place = placeOf(queue);
        this.write({ type: "position", job_id: uid, queue });
      });
    });
  }

  /** The tenant's jobs changed past event id `since`, oldest change first. */
  private async resume(since: bigint): Promise<void> {
    let after = since;
    for (let total = 0; ; ) {
      const rows = await this.deps.jobs.changedSince({ namespace: this.principal.namespace, after, limit: PAGE });
      for (const record of rows) await this.send(record);
      total += rows.length;
      if (rows.length < PAGE) return;
      if (total >= MAX_RESUMED_JOBS) {
        this.write({ type: "error", detail: `more than ${MAX_RESUMED_JOBS} jobs changed since event ${since}: the newest were not sent; list them with GET /v1/jobs` });
        return;
      }
      after = rows.at(-1)!.resourceVersion;
    }
  }

  private push(record: JobRecord): void {
    this.enqueue(() => this.send(record));
  }

  private pushProgress(progress: JobProgress): void {
    this.enqueue(() => {
      // A report that arrives after the job's end is stale.
      const last = this.sent.get(progress.uid);
      if (last && isFinished(last.phase)) return Promise.resolve();
      const { uid, namespace: _namespace, ...report } = progress;
      this.write({ type: "progress", job_id: uid, ...report });
      return Promise.resolve();
    });
  }

  private async send(record: JobRecord): Promise<void> {
    if (this.closed || !this.isNews(record)) return;
    this.remember(record);
    const job = await this.deps.presenter.view(record);
    this.write({ type: "status", id: String(record.resourceVersion), job });
    // A finished job changes no more: following it by id ends.
    if (isFinished(record.phase)) this.stopFollowing(record.uid);
    else this.followPlace(record.uid, { record, queue: job.queue });
  }

  /**
   * Newer than what was sent of the job: a later resourceVersion, or the same one settled as
   * Canceled (a job deleted while no API watched). Nothing after a finished state: its later
   * events (the mirror deleting the finished ImageJob) show the client nothing new.
   */
  private isNews(r: JobRecord): boolean {
    const last = this.sent.get(r.uid);
    if (!last) return true;
    if (isFinished(last.phase)) return false;
    return r.resourceVersion > last.version || (r.resourceVersion === last.version && isFinished(r.phase));
  }

  private remember(r: JobRecord): void {
    this.sent.delete(r.uid);
    this.sent.set(r.uid, { version: r.resourceVersion, phase: r.phase });
    if (this.sent.size > REMEMBERED) this.sent.delete(this.sent.keys().next().value!);
  }

  private enqueue(step: () => Promise<void>): void {
    this.chain = this.chain.then(step).catch((err: unknown) => {
      if (this.closed) return;
      this.deps.log.error({ err, tenant: this.principal.tenantName }, "Could not send a job event on a WebSocket");
      // The client reconnects and resumes; nothing is skipped silently.
      this.ws.close(1011, "internal error: reconnect and resume");
      this.dispose();
    });
  }

  private refuse(detail: string): void {
    this.write({ type: "error", detail });
    if (++this.bad >= MAX_BAD_MESSAGES) {
      this.ws.close(CLOSE.policy, "too many messages refused");
      this.dispose();
    }
  }

  private write(message: ServerMessage): void {
    if (this.closed) return;
    if (this.ws.bufferedAmount > MAX_BUFFERED_BYTES) {
      this.ws.close(CLOSE.tryAgainLater, "too far behind: reconnect and resume");
      this.dispose();
      return;
    }
    this.ws.send(JSON.stringify(message));
  }

  private dispose(): void {
    if (this.closed) return;
    this.closed = true;
    this.all?.();
    this.all = undefined;
    for (const stop of this.named.values()) stop();
    this.named.clear();
    this.waiting.clear();
    this.stopPlaces();
  }
}

function textOf(data: RawData): string {
  if (Array.isArray(data)) return Buffer.concat(data).toString("utf8");
  return (Buffer.isBuffer(data) ? data : Buffer.from(data)).toString("utf8");
}
