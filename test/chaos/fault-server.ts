import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

/** s3: frozen (SIGSTOP) rather than stopped, so clients hang as they would on a hung S3. */
export const PARTS = ["postgres", "redis", "apiserver", "s3"] as const;
export type Part = (typeof PARTS)[number];

/** A harness restart (devstack/stack.ts): stop, run `whileDown`, start again. */
export type Restart = (whileDown?: () => Promise<void>) => Promise<void>;

export interface FaultServer {
  url: string;
  close(): Promise<void>;
}

interface Outage {
  /** Ends the outage: the part starts again. */
  resume: () => void;
  /** The restart, settled once the part is back (or could not come back). */
  restarted: Promise<void>;
}

/**
 * The services belong to the global setup's process, the tests run in another: this loopback
 * endpoint lets a test take a part down and bring it back. `POST /<part>/stop` answers once the
 * part is down, `POST /<part>/start` once it is up again (204, or 500 with the error).
 */
export async function startFaultServer(restarts: Partial<Record<Part, Restart>>): Promise<FaultServer> {
  const outages = new Map<Part, Outage>();
  const stop = async (part: Part) => {
    const restart = restarts[part];
    if (!restart) throw new Error(`${part} was not started by the harness, so it cannot be restarted`);
    if (outages.has(part)) throw new Error(`${part} is already down`);
    let resume!: () => void;
    const resumed = new Promise<void>((r) => (resume = r));
    let down!: () => void;
    const isDown = new Promise<void>((r) => (down = r));
    const restarted = restart(async () => {
      down();
      await resumed;
    });
    outages.set(part, { resume, restarted });
    // A restart that fails before the part is down fails the stop request.
    await Promise.race([isDown, restarted.then(() => Promise.reject(new Error(`${part} restarted without stopping`)))]).catch((err: unknown) => {
      outages.delete(part);
      throw err;
    });
  };
  const start = async (part: Part) => {
    const outage = outages.get(part);
    if (!outage) throw new Error(`${part} is not down`);
    outages.delete(part);
    outage.resume();
    await outage.restarted;
  };
  const server = createServer((req, res) => void handle(req, res, { stop, start }));
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: async () => {
      // Never leave a part down: the stack's teardown expects it running.
      await Promise.all([...outages.keys()].map((p) => start(p).catch(() => {})));
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

async function handle(req: IncomingMessage, res: ServerResponse, actions: Record<"stop" | "start", (part: Part) => Promise<void>>): Promise<void> {
  const match = /^\/(\w+)\/(stop|start)$/.exec(req.url ?? "");
  const part = match?.[1] as Part | undefined;
  if (req.method !== "POST" || !match || !part || !PARTS.includes(part)) {
    res.writeHead(404).end();
    return;
  }
  try {
    await actions[match[2] as "stop" | "start"](part);
    res.writeHead(204).end();
  } catch (err) {
    res.writeHead(500, { "content-type": "text/plain" }).end(err instanceof Error ? err.message : String(err));
  }
}
