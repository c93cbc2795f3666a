import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createHash } from "node:crypto";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parse } from "yaml";
import { CoreV1Api, CustomObjectsApi } from "@kubernetes/client-node";
import { GROUP, IMAGEMODEL_PLURAL, VERSION, type ImageModel } from "../common/crd-types.js";
import { SAMPLERS } from "../common/diffusion-samplers.js";
import { kubeConfig, uniqueName } from "../test/support/env.js";
import { writeTinyDiffusion } from "../models/tiny-diffusion/tiny-diffusion.js";
import { run } from "./run.js";

let dir: string;
let ns: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "pixelmill-manifest-export-"));
  ns = uniqueName("manifest-export");
  await kubeConfig().makeApiClient(CoreV1Api).createNamespace({ body: { metadata: { name: ns } } });
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
  await kubeConfig().makeApiClient(CoreV1Api).deleteNamespace({ name: ns });
});

async function cli(argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = "";
  let stderr = "";
  const code = await run(argv, { stdout: (t) => (stdout += t), stderr: (t) => (stderr += t), env: {} });
  return { code, stdout, stderr };
}

describe("pixelmill models manifest-export", () => {
  it("prints an ImageModel pinning every file of the export, which the apiserver accepts", async () => {
    const folder = join(dir, "sdxl");
    await writeTinyDiffusion(folder, { family: "sdxl", externalData: ["unet"] });
    const res = await cli(["models", "manifest-export", folder, "--name", "tiny-sdxl", "--source", "s3://models/tiny-sdxl/", "--license", "Apache-2.0"]);
    expect(res).toMatchObject({ code: 0, stderr: "" });
    const model = parse(res.stdout) as ImageModel;
    const sha = async (path: string) => createHash("sha256").update(await readFile(join(folder, path))).digest("hex");
    expect(model.spec).toMatchObject({ task: "text-to-image", license: "Apache-2.0", source: { uri: "s3://models/tiny-sdxl/", sha256: await sha("model_index.json") } });
    expect(model.spec.components!["unet/model.onnx_data"]).toEqual({ sha256: await sha("unet/model.onnx_data") });
    expect(model.spec.components!["tokenizer_2/merges.txt"]).toEqual({ sha256: await sha("tokenizer_2/merges.txt") });
    expect(model.spec.params!.map((p) => p.name)).toEqual(["prompt", "negative_prompt", "seed", "steps", "guidance_scale", "width", "height", "scheduler", "strength", "preview_every"]);
    expect(model.spec.params!.find((p) => p.name === "scheduler")).toMatchObject({ default: "euler", enum: [...SAMPLERS] });
    const created = (await kubeConfig().makeApiClient(CustomObjectsApi).createNamespacedCustomObject({ group: GROUP, version: VERSION, namespace: ns, plural: IMAGEMODEL_PLURAL, body: model })) as ImageModel;
    expect(created.spec.components).toEqual(model.spec.components);
  });

  it("refuses a folder that lacks what the task needs, naming it (exit 1)", async () => {
    const folder = join(dir, "no-unet");
    await writeTinyDiffusion(folder, { family: "sd15", malformed: { missing: ["unet", "vae_encoder"] } });
    const res = await cli(["models", "manifest-export", folder, "--name", "x", "--source", "s3://models/x/", "--task", "image-to-image"]);
    expect(res.code).toBe(1);
    expect(res.stderr).toMatch(/lacks unet\/model\.onnx, vae_encoder\/model\.onnx/);
  });

  it("is a usage error without --source ending in /, or with another task (exit 2)", async () => {
    expect((await cli(["models", "manifest-export", dir, "--name", "x"])).code).toBe(2);
    expect((await cli(["models", "manifest-export", dir, "--name", "x", "--source", "s3://m/x/", "--task", "image-to-mask"])).code).toBe(2);
    const notFolder = await cli(["models", "manifest-export", join(dir, "sdxl"), "--name", "x", "--source", "s3://m/x"]);
    expect(notFolder.code).toBe(1);
    expect(notFolder.stderr).toMatch(/must end with '\/'/);
  });
});
