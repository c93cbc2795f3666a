import { STATUS_CODES, type IncomingMessage, type Server } from "node:http";
import type { Duplex } from "node:stream";
import { WebSocketServer, type WebSocket } from "ws";
import { DependencyUnavailableError } from "../../../common/errors.js";
import { counter, scrapedGauge, type Registry } from "../../../common/metrics.js";
import { requireScope, type Authenticate } from "../../domain/authenticate.js";
import { InvalidRequestError, MissingScopeError, RateLimitedError, UnauthenticatedError } from "../../domain/errors.js";
import type { Principal } from "../../domain/principal.js";
import { bearer } from "../auth.js";
import { problem, type Problem } from "../problem.js";
import { JobSocket, type JobSocketDeps } from "./job-socket.js";
import { CLOSE, MAX_CLIENT_MESSAGE_BYTES, SUBPROTOCOL, TICKET_PROTOCOL_PREFIX } from "./protocol.js";
import type { WsTickets } from "./ws-tickets.js";

export const WS_PATH = "/v1/ws";
/** Between the server's pings; a connection that has not answered the previous one by the next is dropped. */
export const DEFAULT_HEARTBEAT_MS = 20_000;
/** How long a closing connection may take over its close handshake at shutdown. */
const CLOSE_GRACE_MS = 2000;

export interface JobSocketsDeps extends JobSocketDeps {
  auth: Authenticate;
  tickets: WsTickets;
  /** WS_HEARTBEAT_MS */
  heartbeatMs?: number;
  metrics: Registry;
}

/**
 * `/v1/ws`: WebSockets beside the SSE route, on `ws` in noServer mode behind the API's own HTTP
 * server. The upgrade is authenticated before it is accepted (401, 403, 429 on the HTTP answer):
 * `Authorization: Bearer <key>`, or for browsers, which cannot set headers on a WebSocket, a ticket
 * of POST /v1/ws/tickets as the subprotocol `ticket.<ticket>` beside `pixelmill.v1`. Never a key
 * in the URL: a query string is refused. The server pings every heartbeat and drops a connection
 * that did not answer the last ping.
 */
export class JobSockets {
  private readonly wss = new WebSocketServer({
    noServer: true, maxPayload: MAX_CLIENT_MESSAGE_BYTES, perMessageDeflate: false,
    handleProtocols: (offered) => (offered.has(SUBPROTOCOL) ? SUBPROTOCOL : false),
  });
  private readonly alive = new WeakSet<WebSocket>();
  private readonly upgrades;
  private readonly unregisterGauge: () => void;
  private heartbeat: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(private readonly deps: JobSocketsDeps) {
    this.upgrades = counter(deps.metrics, "pixelmill_websocket_upgrades_total", "WebSocket upgrade requests to /v1/ws by HTTP status answered (101 accepted).", ["code"]);
    const open = scrapedGauge(deps.metrics, "pixelmill_websocket_connections", "Open WebSocket connections (/v1/ws) of this replica.", []);
    this.unregisterGauge = open.add(() => [[{}, this.wss.clients.size]]);
  }

  /** Takes the upgrades of `server` (the API's HTTP server): /v1/ws, and 404 for any other path. */
  attach(server: Server): void {
    server.on("upgrade", (req: IncomingMessage, socket: Duplex, head: Buffer) => void this.upgrade(req, socket, head));
    this.heartbeat ??= setInterval(() => this.beat(), this.deps.heartbeatMs ?? DEFAULT_HEARTBEAT_MS);
    this.heartbeat.unref();
  }

  /** Open connections. */
  get size(): number {
    return this.wss.clients.size;
  }

  /** At shutdown: each client is told to go elsewhere (1001) and may resume there; no new one is taken. */
  closeAll(): void {
    this.stopped = true;
    clearInterval(this.heartbeat);
    this.unregisterGauge();
    for (const ws of this.wss.clients) {
      ws.close(CLOSE.goingAway, "server shutting down: reconnect and resume");
      setTimeout(() => ws.terminate(), CLOSE_GRACE_MS).unref();
    }
  }

  private async upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    // Until ws takes the socket, a reset while the key is checked would be an unhandled error.
    const ignore = () => {};
    socket.on("error", ignore);
    let principal: Principal;
    try {
      principal = await this.admit(req);
    } catch (err) {
      this.refuse(socket, this.problemOf(err));
      return;
    }
    socket.off("error", ignore);
    this.wss.handleUpgrade(req, socket, head, (ws) => this.accept(ws, principal));
  }

  private async admit(req: IncomingMessage): Promise<Principal> {
    const url = new URL(req.url ?? "/", "http://localhost");
    if (url.pathname !== WS_PATH) throw new NotHere(url.pathname);
    if (this.stopped) throw new DependencyUnavailableError("api (shutting down)");
    if (url.search) {
      throw new InvalidRequestError(`${WS_PATH} takes no query string (never send a key in a URL): authenticate with Authorization: Bearer <key>, or a ticket of POST /v1/ws/tickets as the subprotocol ${TICKET_PROTOCOL_PREFIX}<ticket>`);
    }
    const offered = String(req.headers["sec-websocket-protocol"] ?? "").split(",").map((p) => p.trim()).filter(Boolean);
    if (offered.length && !offered.includes(SUBPROTOCOL)) throw new InvalidRequestError(`offer the subprotocol ${SUBPROTOCOL}`);
    const ticket = offered.find((p) => p.startsWith(TICKET_PROTOCOL_PREFIX))?.slice(TICKET_PROTOCOL_PREFIX.length);
    const principal = await this.principal(req.headers.authorization, ticket);
    const rate = await this.deps.auth.admit(principal);
    if (rate && !rate.allowed) throw new RateLimitedError(rate.limit, rate.resetSeconds);
    requireScope(principal, "jobs:read");
    return principal;
  }

  private async principal(authorization: string | undefined, ticket: string | undefined): Promise<Principal> {
    if (authorization !== undefined) return this.deps.auth.principal(bearer(authorization));
    if (ticket === undefined) {
      throw new UnauthenticatedError(`send Authorization: Bearer <key>, or a ticket of POST /v1/ws/tickets as the subprotocol ${TICKET_PROTOCOL_PREFIX}<ticket> beside ${SUBPROTOCOL}`);
    }
    const keyId = await this.deps.tickets.redeem(ticket);
    if (!keyId) throw new UnauthenticatedError("the ticket is not valid (unknown, used already, or older than 60 s)");
    // The key is checked again: one revoked since the ticket was issued is refused.
    return this.deps.auth.principalOfKey(keyId);
  }

  private accept(ws: WebSocket, principal: Principal): void {
    this.upgrades.inc({ code: "101" });
    this.alive.add(ws);
    ws.on("pong", () => this.alive.add(ws));
    ws.on("error", (err) => this.deps.log.debug({ err: err.message, tenant: principal.tenantName }, "WebSocket error"));
    new JobSocket(ws, principal, this.deps);
    this.deps.log.debug({ tenant: principal.tenantName, protocol: ws.protocol }, "WebSocket opened");
  }

  private beat(): void {
    for (const ws of this.wss.clients) {
      if (!this.alive.has(ws)) {
        this.deps.log.debug("WebSocket dropped: no pong since the last ping");
        ws.terminate();
        continue;
      }
      this.alive.delete(ws);
      ws.ping();
    }
  }

  private problemOf(err: unknown): Problem {
    if (err instanceof NotHere) return problem(404, "not-found", "Not found", err.message);
    if (err instanceof InvalidRequestError) return problem(400, "invalid-request", "Invalid request", err.message);
    if (err instanceof UnauthenticatedError) return problem(401, "unauthenticated", "Unauthenticated", err.message);
    if (err instanceof MissingScopeError) return problem(403, "missing-scope", "Missing scope", err.message, { scope: err.scope });
    if (err instanceof RateLimitedError) return problem(429, "rate-limited", "Too many requests", err.message, { limit: err.limit, retry_after: err.retryAfterSeconds });
    if (err instanceof DependencyUnavailableError) return problem(503, "service-unavailable", "Service unavailable", err.message);
    this.deps.log.error({ err }, "WebSocket upgrade failed");
    return problem(500, "internal", "Internal server error", "the upgrade failed; see the API's log");
  }

  /** The HTTP answer to an upgrade refused, as problem+json; the socket is closed after it. */
  private refuse(socket: Duplex, p: Problem): void {
    this.upgrades.inc({ code: String(p.status) });
    if (!socket.writable) {
      socket.destroy();
      return;
    }
    const body = JSON.stringify({ ...p, instance: WS_PATH });
    const headers = [
      `HTTP/1.1 ${p.status} ${STATUS_CODES[p.status] ?? ""}`, "Connection: close", "Content-Type: application/problem+json", `Content-Length: ${Buffer.byteLength(body)}`,
      ...(p.status === 401 ? ["WWW-Authenticate: Bearer"] : []),
      ...(p.status === 429 ? [`Retry-After: ${String(p.retry_after)}`] : p.status === 503 ? ["Retry-After: 5"] : []),
    ];
    socket.once("finish", () => socket.destroy());
    socket.end(`${headers.join("\r\n")}\r\n\r\n${body}`);
  }
}

/** An upgrade to another path than /v1/ws. */
class NotHere extends Error {
  constructor(path: string) {
    super(`no WebSocket at ${path}: connect to ${WS_PATH}`);
  }
}
