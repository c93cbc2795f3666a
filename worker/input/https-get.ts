import { get, type Agent } from "node:https";
import type { IncomingMessage } from "node:http";
import type { LookupAddress } from "node:dns";
import { JobFailure } from "../../common/errors.js";
import { refuseUrlHost, type AddressPolicy } from "../../common/address-policy.js";
import { pinnedLookup, vetHost, type Resolve } from "../../common/vetted-lookup.js";
import { readLimited, tooLarge } from "./limits.js";
import { raceAbort } from "../../common/race-abort.js";

export type { Resolve };

export interface HttpsGetOptions {
  maxBytes: number;
  maxRedirects: number;
  /** Ends the request, and with it every redirect hop (the caller's deadline). */
  signal: AbortSignal;
  /** Trust store and sockets; Node's global agent (system CAs, NODE_EXTRA_CA_CERTS) when absent. */
  agent?: Agent;
  /** Which addresses may be connected to, checked on every hop. */
  policy: AddressPolicy;
  /** DNS; node:dns lookup (the system resolver, as connecting would use) when absent. */
  resolve?: Resolve;
}

/**
 * GETs an https:// input, following at most `maxRedirects` redirects, each of which must stay
 * on https. 404 and 410 mean the input is gone (not retried); other statuses may pass.
 * Each hop's host is resolved and every address it has is checked against `policy` before
 * connecting, and the connection goes to the checked address: a DNS answer that changes between
 * check and connect (rebinding) cannot point the request elsewhere.
 */
export async function httpsGet(url: URL, opts: HttpsGetOptions): Promise<Buffer> {
  let current = url;
  for (let hop = 0; ; hop++) {
    if (current.protocol !== "https:") {
      throw new JobFailure("InputNotFound", `${shown(url)} redirects to a ${current.protocol} URL; only https is allowed`);
    }
    const addresses = await vetted(current, opts);
    const res = await request(current, addresses, opts);
    const status = res.statusCode ?? 0;
    const location = res.headers.location;
    if (status >= 300 && status < 400 && location) {
      res.resume();
      if (hop >= opts.maxRedirects) throw new JobFailure("InputNotFound", `${shown(url)} redirects more than ${opts.maxRedirects} times`);
      current = URL.parse(location, current.href) ?? unparsableRedirect(url, location, opts.policy);
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

/** The host's addresses, all allowed by the policy; InputForbidden naming the host and why not. */
async function vetted(url: URL, opts: HttpsGetOptions): Promise<LookupAddress[]> {
  // The system resolver cannot be aborted: the race keeps FETCH_TIMEOUT_MS true of a hung lookup.
  const found = await vetHost(url, opts.policy, opts.resolve, (p) => raceAbort(p, opts.signal));
  if ("none" in found) throw new JobFailure("InputNotFound", `${url.host} has no address`);
  if ("refused" in found) throw new JobFailure("InputForbidden", found.refused);
  return found.addresses;
}

/**
 * InputForbidden when URL text that WHATWG URL cannot parse names a host the policy refuses: an
 * IPv6 literal with a zone id (https://[fe80::1%25eth0]/), which the apiserver's CEL url() takes.
 * Undefined otherwise.
 */
export function forbiddenUrlText(text: string, policy: AddressPolicy): JobFailure | undefined {
  const why = refuseUrlHost(policy, text);
  return why === undefined ? undefined : new JobFailure("InputForbidden", why);
}

/** A Location that is no URL: refused as its host if that is why, else the input is not found there (not retried). */
function unparsableRedirect(url: URL, location: string, policy: AddressPolicy): never {
  throw forbiddenUrlText(location, policy) ?? new JobFailure("InputNotFound", `${shown(url)} redirects to a Location that is not a URL`);
}

function request(url: URL, addresses: LookupAddress[], opts: HttpsGetOptions): Promise<IncomingMessage> {
  return new Promise((resolve, reject) => {
    const req = get(url, {
      agent: opts.agent,
      signal: opts.signal,
      lookup: pinnedLookup(addresses),
      headers: { accept: "image/*, */*;q=0.5", "user-agent": "pixelmill-worker" },
    }, resolve);
    req.once("error", reject);
  });
}

/** The URL without its query: presigned URLs carry credentials there, and messages reach users and logs. */
function shown(url: URL): string {
  return `${url.origin}${url.pathname}`;
}
