import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { chown, mkdtemp, readdir, rm } from "node:fs/promises";
import { dirname, join } from "node:path";
import { tmpdir, userInfo } from "node:os";
import pg from "pg";
import { freePort, startProcess, waitUntil, type Managed } from "./processes.js";

const run = promisify(execFile);

export interface Service {
  url: string;
  /** True when the harness started it (and so stops it); false for one that was already running. */
  owned: boolean;
  stop(): Promise<void>;
  /**
   * Only for a server the harness started: stop it, run `whileDown`, start it again on the same
   * port with the same data (the chaos suite's faults).
   */
  restart?: (whileDown?: () => Promise<void>) => Promise<void>;
}

export const DEFAULT_DATABASE_URL = "postgresql://postgres@127.0.0.1:5432/postgres";

/**
 * DATABASE_URL, else the machine's server on 5432, else a postgres started from PATH in `dir`.
 * `own` (default: PIXELMILL_OWN_SERVICES=1) skips the first two (tests that restart Postgres need their own).
 */
export async function providePostgres(dir: string, opts: { own?: boolean } = {}): Promise<Service> {
  const url = process.env.DATABASE_URL ?? DEFAULT_DATABASE_URL;
  const own = opts.own ?? process.env.PIXELMILL_OWN_SERVICES === "1";
  if (!own && (await canConnect(url))) return { url, owned: false, stop: async () => {} };
  if (!own && process.env.DATABASE_URL) throw new Error(`DATABASE_URL is set but Postgres does not answer there: ${redact(process.env.DATABASE_URL)}`);
  return startPostgres(dir);
}

export async function canConnect(url: string): Promise<boolean> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 2000 });
  try {
    await client.connect();
    await client.query("select 1");
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => {});
  }
}

async function startPostgres(dir: string): Promise<Service> {
  // Its own temp dir: `dir` is private to the harness's user, and postgres may run as another.
  const data = await mkdtemp(join(tmpdir(), "pixelmill-pg-"));
  // initdb and postgres refuse to run as root: run them as the postgres account the package made.
  const user = userInfo().uid === 0 ? "postgres" : undefined;
  if (user) {
    const { stdout } = await run("id", ["-u", user]).catch(() => {
      throw new Error("running as root, and there is no 'postgres' user to run Postgres as: install Debian's postgresql package");
    });
    await chown(data, Number(stdout.trim()), Number(stdout.trim()));
  }
  const bin = await postgresBinDir();
  const initdb = [join(bin, "initdb"), "-D", data, "-A", "trust", "-U", "postgres", "--no-sync", "-E", "UTF8"];
  await run(user ? "runuser" : initdb[0]!, user ? ["-u", user, "--", ...initdb] : initdb.slice(1));
  const port = await freePort();
  const url = `postgresql://postgres@127.0.0.1:${port}/postgres`;
  const start = async () => {
    const started = startProcess({
      name: "postgres",
      command: join(bin, "postgres"),
      user,
      logPath: join(dir, "postgres.log"),
      args: ["-D", data, "-p", String(port), "-k", data, "-c", "listen_addresses=127.0.0.1", "-c", "fsync=off", "-c", "full_page_writes=off", "-c", "max_connections=300"],
    });
    await waitUntil("postgres to accept connections", () => canConnect(url), { timeoutMs: 30_000, process: started });
    return started;
  };
  return ownedService(url, start, {
    // Fast shutdown: clients are disconnected at once (SIGTERM's smart mode would wait for them).
    shutdown: async (proc) => {
      const pgCtl = [join(bin, "pg_ctl"), "stop", "-D", data, "-m", "fast", "-w", "-t", "30"];
      await run(user ? "runuser" : pgCtl[0]!, user ? ["-u", user, "--", ...pgCtl] : pgCtl.slice(1));
      await proc.exited;
    },
    afterStop: () => rm(data, { recursive: true, force: true }),
  });
}

/**
 * A server the harness started with `start`, which it stops, and restarts on the same port and
 * data: `shutdown` (default: stop the process), `whileDown`, then `start` again.
 */
export async function ownedService(url: string, start: () => Promise<Managed>, opts: { shutdown?: (proc: Managed) => Promise<void>; afterStop?: () => Promise<void> } = {}): Promise<Service> {
  let proc = await start();
  return {
    url,
    owned: true,
    stop: async () => {
      await proc.stop();
      await opts.afterStop?.();
    },
    restart: async (whileDown) => {
      await (opts.shutdown ?? ((p) => p.stop()))(proc);
      try {
        await whileDown?.();
      } finally {
        proc = await start();
      }
    },
  };
}

export function redact(url: string): string {
  return url.replace(/\/\/([^:@/]+):[^@/]+@/, "//$1:***@");
}

/** Debian keeps the server binaries off PATH, in /usr/lib/postgresql/<major>/bin. */
async function postgresBinDir(): Promise<string> {
  const onPath = await run("sh", ["-c", "command -v initdb"]).then((r) => dirname(r.stdout.trim()), () => undefined);
  if (onPath) return onPath;
  const majors = await readdir("/usr/lib/postgresql").catch(() => [] as string[]);
  const newest = majors.map(Number).filter(Number.isFinite).sort((a, b) => b - a)[0];
  if (newest === undefined) throw new Error("Postgres is not reachable and no server binaries were found (PATH, /usr/lib/postgresql): install Debian's postgresql package or set DATABASE_URL");
  return `/usr/lib/postgresql/${newest}/bin`;
}

/** The URL of database `name` on the server at `adminUrl`, created if it does not exist. */
export async function ensureDatabase(adminUrl: string, name: string): Promise<string> {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    const found = await client.query("select 1 from pg_database where datname = $1", [name]);
    if (found.rowCount === 0) await client.query(`CREATE DATABASE "${name.replace(/"/g, '""')}"`);
  } finally {
    await client.end();
  }
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return url.toString();
}
