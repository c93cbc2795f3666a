import { pino, type Logger, type LevelWithSilent } from "pino";

export type { Logger };

/** One JSON logger per process; components take children (`log.child({ component: "mirror" })`). */
export function createLogger(opts: { level?: LevelWithSilent; name?: string } = {}): Logger {
  return pino({
    name: opts.name,
    level: opts.level ?? "info",
    base: { pid: process.pid },
    timestamp: pino.stdTimeFunctions.isoTime,
    redact: { paths: ["*.secretAccessKey", "*.password", "*.token", "*.authorization"], censor: "***" },
  });
}
