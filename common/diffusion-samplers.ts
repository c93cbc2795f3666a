/**
 * The samplers a diffusion job can ask for in its `scheduler` param. The worker implements them
 * (worker/inference/diffusion/schedulers.ts); a diffusion ImageModel declares them as the param's
 * `enum` (models/export-manifest.ts), so the API refuses another name before a job is made.
 */
export const SAMPLERS = ["euler", "euler-ancestral", "dpmpp-2m-karras", "lcm"] as const;
export type SamplerName = (typeof SAMPLERS)[number];
