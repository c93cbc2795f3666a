import type { Redis } from "ioredis";
import type { Logger } from "../../../common/logger.js";
import { NOTIFY_STREAM, type JobNotification } from "../../../common/queue.js";

/**
 * Follows the workers' notification stream (common/queue.ts) on a dedicated connection and
 * hands each `namespace/name` to `onJob`. Starts from the stream's end: what happened before
 * the operator started is found by the informer's initial list, not by replay.
 */
export class NotificationListener {
  private stopped = false;
  private loop?: Promise<void>;

  constructor(private readonly redis: Redis, private readonly prefix: string, private readonly onJob: (n: JobNotification) => void, private readonly log: Logger) {}

  start(): void {
    this.loop = this.run();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.redis.disconnect(); // ends the blocking XREAD
    await this.loop;
  }

  private async run(): Promise<void> {
    const stream = `${this.prefix}:${NOTIFY_STREAM}`;
    let lastId = "$";
    while (!this.stopped) {
      try {
        const reply = await this.redis.xread("COUNT", 500, "BLOCK", 5000, "STREAMS", stream, lastId);
        for (const [, entries] of reply ?? []) {
          for (const [id, fields] of entries) {
            lastId = id;
            const n = toNotification(fields);
            if (n) this.onJob(n);
          }
        }
      } catch (err) {
        if (this.stopped) return;
        this.log.warn({ err: (err as Error).message }, "Reading job notifications failed, retrying");
        await new Promise((r) => setTimeout(r, 1000));
      }
    }
  }
}

function toNotification(fields: string[]): JobNotification | undefined {
  const map = new Map<string, string>();
  for (let i = 0; i + 1 < fields.length; i += 2) map.set(fields[i]!, fields[i + 1]!);
  const [uid, namespace, name] = [map.get("uid"), map.get("namespace"), map.get("name")];
  const batch = map.get("batch");
  const batchIndex = batch !== undefined && /^\d+$/.test(batch) ? Number(batch) : undefined;
  return uid && namespace && name ? { uid, namespace, name, model: map.get("model"), ...(batchIndex === undefined ? {} : { batchIndex }) } : undefined;
}
