/** Where the CLI writes and what it reads of its environment; tests pass their own. */
export interface Io {
  stdout(text: string): void;
  stderr(text: string): void;
  env: Record<string, string | undefined>;
}

/** A command line the CLI cannot run: exit code 2, with the usage. */
export class UsageError extends Error {}
