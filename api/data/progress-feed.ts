import type { Redis } from "ioredis";
import { parseProgress, progressChannel, type JobProgress } from "../../common/job/progress.js";
import type { JobEvents } from "../domain/job-events.js";

/**
 * Workers' progress reports (worker/queue/progress-publisher.ts), heard on the progress channel
 * on a connection of its own (a subscribed connection takes no other commands) and handed to the
 * followers of each job. Every API replica subscribes, so a follower hears its job on whichever
 * replica it is connected to. A malformed message is dropped.
 */
export class ProgressFeed {
  private readonly subscriber: Redis;
  private readonly channel: string;

  /** `also`: told of every report too (progress webhooks, api/outbox/). */
  constructor(redis: Redis, prefix: string, events: JobEvents, also?: (progress: JobProgress) => void) {
    this.subscriber = redis.duplicate({ connectionName: "pixelmill-api-progress" });
    // The main connection's health check already reports Redis being away; this one reconnects and resubscribes by itself.
    this.subscriber.on("error", () => {});
    this.channel = progressChannel(prefix);
    this.subscriber.on("message", (channel: string, message: string) => {
      if (channel !== this.channel) return;
      const progress = parseProgress(message);
      if (!progress) return;
      events.emitProgress(progress);
      also?.(progress);
    });
  }

  /** Subscribes; without Redis it keeps trying in the background (progress is a nicety, not a dependency of serving). */
  start(): void {
    this.subscriber.subscribe(this.channel).catch(() => {});
  }

  stop(): void {
    this.subscriber.disconnect();
  }
}
