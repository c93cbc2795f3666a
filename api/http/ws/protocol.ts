import { z } from "zod";
import type { JobProgress } from "../../../common/job/progress.js";
import type { JobQueue, JobView } from "../schemas.js";

/**
 * The messages of `/v1/ws` (JSON text frames). The client subscribes to jobs by id, or to every
 * job of its tenant (`all`), and may resume `all` from the last status event id it saw. The
 * server sends `status` (the job as GET shows it, with the state's event id), `progress`,
 * `subscribed` (the answer to each subscribe), `error` (a message it could not take), and, for a
 * job followed by id while it waits in its queue, `position` (the view's `queue`, null once it
 * left the queue) whenever its place changed, read every few seconds.
 */

/** The subprotocol a client offers and the server echoes; a browser sends its ticket beside it as `ticket.<ticket>`. */
export const SUBPROTOCOL = "pixelmill.v1";
export const TICKET_PROTOCOL_PREFIX = "ticket.";

/** Jobs one connection may follow by id at once (`all` counts as one). */
export const MAX_SUBSCRIBED_JOBS = 1000;
/** The largest message a client may send (ws maxPayload); a subscribe of 1000 UIDs is about 40 KiB. */
export const MAX_CLIENT_MESSAGE_BYTES = 64 * 1024;
/** Messages refused (malformed, unknown type, over a limit) before the connection is closed as abusive. */
export const MAX_BAD_MESSAGES = 20;
/** Bytes queued for a client that does not read before it is dropped (close code 1013: reconnect and resume). */
export const MAX_BUFFERED_BYTES = 8 * 1024 * 1024;
/** States a resume of `all` sends at most; past it the client is told to list the jobs instead. */
export const MAX_RESUMED_JOBS = 10_000;

/** An event id: a state's metadata.resourceVersion, a decimal integer. */
const eventId = z.string().regex(/^\d{1,19}$/, "an event id as the server sent it (decimal digits)");
const jobIds = z.array(z.string().max(64)).min(1).max(MAX_SUBSCRIBED_JOBS);

const target = { jobs: jobIds.optional(), all: z.literal(true).optional() };
const oneTarget = (m: { jobs?: unknown; all?: unknown }) => (m.jobs === undefined) !== (m.all === undefined);
const TARGET_MESSAGE = "name either `jobs` (job ids) or `all: true`, not both";

export const clientMessageSchema = z.discriminatedUnion("type", [
  z.strictObject({ type: z.literal("subscribe"), ...target, since: eventId.optional() }).refine(oneTarget, TARGET_MESSAGE),
  z.strictObject({ type: z.literal("unsubscribe"), ...target }).refine(oneTarget, TARGET_MESSAGE),
]);
export type ClientMessage = z.infer<typeof clientMessageSchema>;

export type ServerMessage =
  | { type: "status"; id: string; job: JobView }
  | ({ type: "progress"; job_id: string } & Omit<JobProgress, "uid" | "namespace">)
  | { type: "position"; job_id: string; queue: JobQueue | null }
  | { type: "subscribed"; jobs?: string[]; all?: true; not_found?: string[] }
  | { type: "error"; detail: string };

/** Close codes (RFC 6455 and the IANA registry) the server uses. */
export const CLOSE = {
  /** Shutting down: reconnect (to another replica) and resume. */
  goingAway: 1001,
  /** Too many bad messages. */
  policy: 1008,
  /** The client read too slowly; reconnect and resume. */
  tryAgainLater: 1013,
} as const;
