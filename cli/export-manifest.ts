import { stringify } from "yaml";
import { exportManifest } from "../models/export-manifest.js";
import { UsageError, type Io } from "./io.js";
import type { Options } from "./run.js";

const TASKS = ["text-to-image", "image-to-image"] as const;

/**
 * `models manifest-export DIR --name N --source URI [--task T] [--license SPDX]`: local, no API
 * call. Prints the ImageModel of a diffusion export folder, every file pinned by its sha256, for
 * `kubectl apply -f -` once the folder is uploaded to URI. Exit 1 when DIR is not a usable export.
 */
export async function exportManifestCommand(args: string[], options: Options, io: Io): Promise<number> {
  const [dir, ...rest] = args;
  const task = options.task ?? "text-to-image";
  if (dir === undefined || rest.length || !options.name || !options.source) throw new UsageError("models manifest-export DIR --name N --source s3://BUCKET/PREFIX/ [--task text-to-image|image-to-image] [--license SPDX]");
  if (!(TASKS as readonly string[]).includes(task)) throw new UsageError(`--task is one of ${TASKS.join(", ")}`);
  try {
    const model = await exportManifest(dir, { name: options.name, task: task as (typeof TASKS)[number], source: options.source, ...(options.license ? { license: options.license } : {}) });
    io.stdout(options.json ? `${JSON.stringify(model)}\n` : stringify(model));
    return 0;
  } catch (err) {
    io.stderr(`pixelmill: ${(err as Error).message}\n`);
    return 1;
  }
}
