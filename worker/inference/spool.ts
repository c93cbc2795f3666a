import { randomUUID } from "node:crypto";
import { rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import sharp from "sharp";
import type { OutputFormat } from "../../common/crd-types.js";
import { firstLine, JobFailure } from "../../common/errors.js";
import type { SpooledOutput } from "../runner.js";
import { CONTENT_TYPES } from "./image-io.js";
import { PNG_FAST, writePng, type RowWriter } from "./png-stream.js";

/**
 * Where an output too large to hold whole goes (ADR 0016): its rows stream into a PNG file in the
 * temp dir (the worker pod's /tmp emptyDir), which is the output, or which libvips re-encodes
 * into JPEG or WebP reading it sequentially; the job uploads the file as a stream and removes it.
 */
export class OutputSpool {
  private readonly png = join(tmpdir(), `pixelmill-output-${randomUUID()}.png`);
  private encoded?: string;

  constructor(private readonly format: OutputFormat, private readonly quality?: number) {}

  /** PipelineRequest.rows: the PNG is compressed fully only when it is the output itself. */
  readonly rows = (width: number, height: number, channels: number): RowWriter =>
    writePng(this.png, width, height, channels, this.format === "png" ? 6 : PNG_FAST);

  /** The output file in the job's format, once every row is written. */
  async finish(): Promise<{ body: SpooledOutput; contentType: string }> {
    let path = this.png;
    if (this.format !== "png") {
      path = this.encoded = join(tmpdir(), `pixelmill-output-${randomUUID()}.${this.format}`);
      const input = sharp(this.png, { limitInputPixels: false, sequentialRead: true });
      const gray = (await input.metadata()).channels === 1;
      const pipeline = gray && this.format === "jpeg" ? input.toColourspace("b-w") : input;
      try {
        await (this.format === "webp" ? pipeline.webp({ quality: this.quality }) : pipeline.jpeg({ quality: this.quality })).toFile(path);
      } catch (err) {
        throw new JobFailure("InferenceError", `encoding the output as ${this.format} failed: ${firstLine(err) || "unknown encoder error"}`, { cause: err });
      } finally {
        await rm(this.png, { force: true });
      }
    }
    return { body: { path, bytes: (await stat(path)).size }, contentType: CONTENT_TYPES[this.format] };
  }

  /** Removes what is left (a failed or canceled run). */
  async discard(): Promise<void> {
    await Promise.all([this.png, this.encoded].filter((p): p is string => !!p).map((p) => rm(p, { force: true })));
  }
}
