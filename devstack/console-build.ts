import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { projectRoot } from "./binaries.js";

/** Where `npm run build:web` writes the console, and what CONSOLE_DIR names for the API. */
export const CONSOLE_DIST = join(projectRoot, "web", "dist");

/**
 * Builds the web console (`npm run build:web`: Vite, web/vite.config.ts) into web/dist, so the
 * API of `npm run dev` serves what the working tree has now. Says why when it cannot (no web/
 * yet, a failed build) and returns false: the API still runs, and its `/` tells the console is
 * not built.
 */
export async function buildConsole(log: (m: string) => void): Promise<boolean> {
  if (!existsSync(join(projectRoot, "web", "vite.config.ts"))) {
    log("web console: web/vite.config.ts not found, so nothing to build; the API runs without the console");
    return false;
  }
  log("web console: building (npm run build:web)");
  const code = await new Promise<number | null>((resolve, reject) => {
    const child = spawn("npm", ["run", "--silent", "build:web"], { cwd: projectRoot, stdio: ["ignore", "inherit", "inherit"] });
    child.once("error", reject);
    child.once("exit", (exitCode) => resolve(exitCode));
  });
  if (code !== 0) {
    log(`web console: the build failed (exit code ${code}); the API runs without a fresh console`);
    return false;
  }
  return existsSync(join(CONSOLE_DIST, "index.html"));
}
