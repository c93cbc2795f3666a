import type { Redis } from "ioredis";
import type { Logger } from "../../common/logger.js";
import { MAX_PREVIEW_CHARS, progressChannel, type JobProgress } from "../../common/job/progress.js";

/**
 * Publishes jobs' progress on the progress channel (common/job/progress.ts), where every API
 * replica hears it for its SSE followers: no ImageJob write, no Postgres row. Fire and forget: a
 * lost message is only a late progress bar, never a lost result. An attempt's stages are told
 * only once it has run `minIntervalMs` (a job done sooner has nothing a status event does not
 * say, and most jobs of small models are: a PUBLISH per stage would cost them 5 commands each);
 * steps are coalesced per job to one message per `minIntervalMs`; a new stage after that, the
 * last step and a preview always go out.
 */
export class ProgressPublisher {
  private readonly channel: string;
  private readonly last = new Map<string, { at: number; stage: string }>();

  constructor(private readonly redis: Redis, prefix: string, private readonly log: Logger, private readonly minIntervalMs = 250) {
    this.channel = progressChannel(prefix);
  }

  readonly report = (progress: JobProgress): void => {
    if (progress.step === undefined && progress.preview === undefined && progress.elapsedMs < this.minIntervalMs) return;
    const now = Date.now();
    const last = this.last.get(progress.uid);
    const news = !last || last.stage !== progress.stage || progress.preview !== undefined
      || (progress.step !== undefined && progress.step.done >= progress.step.total);
    if (!news && now - last.at < this.minIntervalMs) return;
    this.last.set(progress.uid, { at: now, stage: progress.stage });
    // An attempt's last word is its upload stage: forget it then, so the map holds running jobs only.
    if (progress.stage === "upload") this.last.delete(progress.uid);
    const message = progress.preview && progress.preview.length > MAX_PREVIEW_CHARS ? { ...progress, preview: undefined } : progress;
    this.redis.publish(this.channel, JSON.stringify(message)).catch((err: unknown) => {
      this.log.debug({ jobUid: progress.uid, err: (err as Error).message }, "Could not publish progress");
    });
  };

  /** Forgets a job whose attempt ended without reaching upload (failed, canceled). */
  forget(uid: string): void {
    this.last.delete(uid);
  }
}
