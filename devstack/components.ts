import { join } from "node:path";
import { projectRoot } from "./binaries.js";
import { startProcess, type Managed } from "./processes.js";

/** The three processes of the platform, each `<component>/main.ts`. */
export type Component = "api" | "operator" | "worker";

export interface ComponentOptions {
  /** Tells apart several processes of one component (`worker-2`): their name and log file. */
  instance?: string;
  /** Also show the output on this process's stdout/stderr (npm run dev). */
  inheritOutput?: boolean;
}

/**
 * Runs a component as its own process, the way `npm run dev` and the chaos suite do: Node with
 * tsx, configured only by `env` (common/config.ts), logging to `<logDir>/<name>.log`, which a
 * restarted process of the same name appends to.
 */
export function startComponent(component: Component, env: NodeJS.ProcessEnv, logDir: string, opts: ComponentOptions = {}): Managed {
  const name = opts.instance ? `${component}-${opts.instance}` : component;
  return startProcess({
    name,
    command: process.execPath,
    args: ["--import", "tsx", join(projectRoot, component, "main.ts")],
    env,
    cwd: projectRoot,
    logPath: join(logDir, `${name}.log`),
    inheritOutput: opts.inheritOutput,
  });
}
