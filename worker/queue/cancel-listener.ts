import type { Redis } from "ioredis";
import type { Logger } from "../../common/logger.js";
import { cancelChannel, cancelMarkerKey } from "../../common/queue.js";

/**
 * The worker's side of canceling (common/queue.ts): a subscription to the cancel channel on a
 * connection of its own (a subscribed connection takes no other commands), and the marker check
 * for the messages a worker cannot have seen. A failed check counts as not canceled: the message,
 * or the next check before the output is written, still catches it.
 */
export class CancelListener {
  private readonly subscriber: Redis;
  private readonly channel: string;

  /** `redis` must have no keyPrefix: the channel and the markers live beside BullMQ's keys. */
  constructor(private readonly redis: Redis, private readonly prefix: string, private readonly onCancel: (uid: string) => void, private readonly log: Logger) {
    this.subscriber = redis.duplicate({ connectionName: "pixelmill-worker-cancel" });
    // The main connection already logs Redis being away; this one reconnects (and resubscribes) by itself.
    this.subscriber.on("error", () => {});
    this.channel = cancelChannel(prefix);
    this.subscriber.on("message", (channel: string, uid: string) => {
      if (channel === this.channel) this.onCancel(uid);
    });
  }

  /** Resolves once subscribed; ioredis subscribes again by itself after a reconnect. */
  async start(): Promise<void> {
    await this.subscriber.subscribe(this.channel);
  }

  async canceled(uid: string): Promise<boolean> {
    try {
      return (await this.redis.exists(cancelMarkerKey(this.prefix, uid))) === 1;
    } catch (err) {
      this.log.warn({ jobUid: uid, err: (err as Error).message }, "Could not check the cancel marker");
      return false;
    }
  }

  async stop(): Promise<void> {
    await this.subscriber.quit().catch(() => this.subscriber.disconnect());
  }
}
