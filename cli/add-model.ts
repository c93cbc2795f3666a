import { readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import { parse as parseYaml } from "yaml";
import type { ModelContract, ModelFiles, ModelOrigin, ModelView, NewModel, PixelmillClient } from "../client/index.js";
import { UsageError, type Io } from "./io.js";
import type { Options } from "./run.js";

const TASKS = ["image-to-image", "image-to-mask"] as const;
export const ADD_USAGE = "models add FILE.onnx|TFJS_DIR --name N --task image-to-image|image-to-mask --contract FILE.yaml|json [--license SPDX] [--origin-url URL | --origin-package PKG@VERSION]";

/**
 * `models add`: uploads an ONNX file, or a TF.js layers model folder (its model.json and the
 * shards the manifest names, which the API converts), with its contract. The contract file is
 * YAML or JSON: the ImageModel spec's input, output, params and pools, or a whole ImageModel
 * manifest, whose spec they are then taken from.
 */
export async function addModelCommand(client: PixelmillClient, args: string[], options: Options, io: Io): Promise<number> {
  const [path, ...rest] = args;
  if (path === undefined || rest.length) throw new UsageError(ADD_USAGE);
  const model = await newModel(options);
  const files = await modelFiles(path);
  const added = await client.addModel(model, files);
  io.stdout(options.json ? `${JSON.stringify(added)}\n` : `${describeAdded(added)}\n`);
  return 0;
}

async function newModel(options: Options): Promise<NewModel> {
  const { name, task, contract } = options;
  if (!name || !task || !contract) throw new UsageError(`models add needs --name, --task and --contract\n  ${ADD_USAGE}`);
  if (!(TASKS as readonly string[]).includes(task)) throw new UsageError(`--task is one of ${TASKS.join(", ")}`);
  if (options["origin-url"] && options["origin-package"]) throw new UsageError("give --origin-url or --origin-package, not both");
  return {
    name, task: task as NewModel["task"], contract: await readContract(contract),
    ...(options.license ? { license: options.license } : {}), ...originOf(options),
  };
}

function originOf(options: Options): { origin?: ModelOrigin } {
  if (options["origin-url"]) return { origin: { url: options["origin-url"] } };
  const pkg = options["origin-package"];
  if (!pkg) return {};
  const at = pkg.lastIndexOf("@");
  if (at <= 0) throw new UsageError("--origin-package takes PACKAGE@VERSION");
  return { origin: { package: pkg.slice(0, at), version: pkg.slice(at + 1) } };
}

async function readContract(file: string): Promise<ModelContract> {
  let doc: unknown;
  try {
    doc = parseYaml(await readFile(file, "utf8")) as unknown;
  } catch (err) {
    throw new UsageError(`--contract ${file}: ${(err as Error).message}`);
  }
  if (typeof doc !== "object" || doc === null) throw new UsageError(`--contract ${file} holds no contract (input, output, params, pools)`);
  // A manifest: its spec's contract, not the rest (source, task…), which this command decides.
  const spec = "spec" in doc && typeof doc.spec === "object" && doc.spec !== null ? doc.spec : doc;
  const { input, output, params, pools } = spec as Record<string, unknown>;
  return { input, output, ...(params === undefined ? {} : { params }), ...(pools === undefined ? {} : { pools }) } as ModelContract;
}

/** An ONNX file as it is; a folder as a TF.js model: model.json and the shards its manifest names. */
async function modelFiles(path: string): Promise<ModelFiles> {
  if (!(await stat(path)).isDirectory()) return { onnx: await readFile(path) };
  const modelJson = await readFile(join(path, "model.json"));
  const manifest = JSON.parse(modelJson.toString("utf8")) as { weightsManifest?: Array<{ paths?: string[] }> };
  const shards: Record<string, Uint8Array> = {};
  for (const shard of (manifest.weightsManifest ?? []).flatMap((g) => g.paths ?? [])) shards[shard] = await readFile(join(path, shard));
  return { tfjs: { modelJson, shards } };
}

function describeAdded(m: ModelView): string {
  return `added ${m.name}  ${m.task}  sha256 ${m.sha256 ?? "?"}${m.params.length ? `  params: ${m.params.map((p) => p.name).join(", ")}` : ""}`;
}
