import { get, type Agent } from "node:https";
import type { IncomingMessage } from "node:http";
import { JobFailure } from "../common/errors.js";
import { readLimited, tooLarge } from "./limits.js";

export interface HttpsGetOptions {
  maxBytes: number;
  maxRedirects: number;
  /** Ends the request, and with it every redirect hop (the caller's deadline). */
  signal: AbortSignal;
  /** Trust store and sockets; Node's global agent (system CAs, NODE_EXTRA_CA_CERTS) when absent. */
  agent?: Agent;
}

/**
 * GETs an https:// input, following at most `maxRedirects` redirects, each of which must stay
 * on https. 404 and 410 mean the input is gone (not retried); other statuses may pass.
 */
export async function httpsGet(url: URL, opts: HttpsGetOptions): Promise<Buffer> {
  let current = url;
  for (let hop = 0; ; hop++) {
    if (current.protocol !== "https:") {
      throw new JobFailure("InputNotFound", `${shown(url)} redirects to a ${current.protocol} URL; only https is allowed`);
    }
    const res = await request(current, opts);
    const status = res.statusCode ?? 0;
    const location = res.headers.location;
    if (status >= 300 && status < 400 && location) {
      res.resume();
      if (hop >= opts.maxRedirects) throw new JobFailure("InputNotFound", `${shown(url)} redirects more than ${opts.maxRedirects} times`);
      current = new URL(location, current);
      continue;
    }
    if (status < 200 || status >= 300) {
      res.resume();
      const reason = status === 404 || status === 410 ? "InputNotFound" : "StorageError";
      throw new JobFailure(reason, `GET ${shown(current)} answered ${status}`);
    }
    const declared = Number(res.headers["content-length"]);
    if (Number.isFinite(declared) && declared > opts.maxBytes) {
      res.destroy();
      throw tooLarge(opts.maxBytes);
    }
    return readLimited(res, opts.maxBytes);
  }
}

function request(url: URL, opts: HttpsGetOptions): Promise<IncomingMessage> {
  return new Promise((resolve, reject) => {
    const req = get(url, { agent: opts.agent, signal: opts.signal, headers: { accept: "image/*, */*;q=0.5", "user-agent": "pixelmill-worker" } }, resolve);
    req.once("error", reject);
  });
}

/** The URL without its query: presigned URLs carry credentials there, and messages reach users and logs. */
function shown(url: URL): string {
  return `${url.origin}${url.pathname}`;
}
