import type { ImageJobPhase } from "../../common/job/phases.js";
import { decodeCursor, encodeCursor, isUuid } from "./cursor.js";
import { JobNotFoundError } from "./errors.js";
import type { JobRecord } from "./job-record.js";
import type { JobRepository } from "./ports.js";
import type { Principal } from "./principal.js";

export interface ListJobsQuery {
  limit: number;
  cursor?: string;
  phase?: ImageJobPhase;
  model?: string;
  /** Created at or after this instant. */
  createdFrom?: Date;
  /** Created before this instant. */
  createdBefore?: Date;
}

/** One page of the history, newest first; `nextCursor` reads the next one, null after the last. */
export interface JobPage {
  items: JobRecord[];
  nextCursor: string | null;
}

/** Reads of the job history in the caller's namespace: another tenant's job is not found. */
export class JobQueries {
  constructor(private readonly deps: { jobs: JobRepository }) {}

  /** The record of job `id` (an ImageJob UID); JobNotFoundError when there is none in the principal's namespace. */
  async record(principal: Principal, id: string): Promise<JobRecord> {
    const found = isUuid(id) ? await this.deps.jobs.get(principal.namespace, id.toLowerCase()) : undefined;
    if (!found) throw new JobNotFoundError(id);
    return found;
  }

  async list(principal: Principal, q: ListJobsQuery): Promise<JobPage> {
    const after = q.cursor === undefined ? undefined : decodeCursor(q.cursor);
    // One more than asked for tells whether another page follows.
    const rows = await this.deps.jobs.list({ namespace: principal.namespace, phase: q.phase, model: q.model, createdFrom: q.createdFrom, createdBefore: q.createdBefore, limit: q.limit + 1, after });
    const page = rows.slice(0, q.limit);
    const last = page.at(-1);
    return {
      items: page,
      nextCursor: rows.length > q.limit && last ? encodeCursor({ createdAt: last.createdAt, uid: last.uid }) : null,
    };
  }
}
