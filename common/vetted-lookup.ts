import { lookup } from "node:dns/promises";
import type { LookupAddress } from "node:dns";
import { isIP, type LookupFunction } from "node:net";
import { refusal, type AddressPolicy } from "./address-policy.js";

/** A host's addresses, as node:dns lookup with `all: true` gives them. */
export type Resolve = (host: string) => Promise<LookupAddress[]>;

/** What vetting a URL's host found: the addresses to connect to, none at all, or why one is refused. */
export type Vetted = { addresses: LookupAddress[] } | { none: true } | { refused: string };

/**
 * The URL's host resolved (or taken as the address literal it is), every address checked against
 * `policy`: one refused refuses the host. Every outbound request on a URL a user chose (job
 * inputs, webhooks) goes through this, on every redirect hop, and then connects to the checked
 * addresses only (pinnedLookup), so a DNS answer that changes between check and connect cannot
 * point it elsewhere. `race` bounds the lookup (the system resolver cannot be aborted).
 */
export async function vetHost(
  url: URL, policy: AddressPolicy, resolve: Resolve = systemResolve, race: <T>(p: Promise<T>) => Promise<T> = (p) => p, purpose?: string,
): Promise<Vetted> {
  const host = url.hostname.replace(/^\[(.*)\]$/, "$1");
  const literal = isIP(host);
  const addresses = literal ? [{ address: host, family: literal }] : await race(resolve(host));
  if (addresses.length === 0) return { none: true };
  for (const { address } of addresses) {
    const why = policy.refuse(address);
    if (why) return { refused: refusal(url.host, why, !literal, purpose) };
  }
  return { addresses };
}

export function systemResolve(host: string): Promise<LookupAddress[]> {
  return lookup(host, { all: true, verbatim: true });
}

/** A lookup answering with the checked addresses only; TLS still verifies the URL's host name. */
export function pinnedLookup(addresses: LookupAddress[]): LookupFunction {
  return (_host, options, callback) => {
    const family = options.family === 4 || options.family === 6 ? options.family : 0;
    const usable = addresses.filter((a) => family === 0 || a.family === family);
    if (usable.length === 0) {
      callback(Object.assign(new Error(`no IPv${family} address was vetted`), { code: "ENOTFOUND" }), "", 0);
      return;
    }
    if (options.all) (callback as unknown as (err: null, all: LookupAddress[]) => void)(null, usable);
    else callback(null, usable[0]!.address, usable[0]!.family);
  };
}
