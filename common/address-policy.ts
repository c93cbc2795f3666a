import { isIP } from "node:net";

/**
 * Which network addresses a worker may fetch inputs from. A job's https:// URL is chosen by
 * whoever submits the job, so without this a job could read the cloud's metadata service
 * (169.254.169.254), the cluster's services or the node's loopback, and return what it read
 * as its "image" (SSRF).
 */
export interface AddressPolicy {
  /** Why `address` (an IPv4 or IPv6 literal) is refused, or undefined when it may be used. */
  refuse(address: string): string | undefined;
}

/**
 * An IPv6 address with a zone id (fe80::1%eth0; in a URL https://[fe80::1%25eth0]/) names an
 * interface of whichever machine reads it: refused by every policy, whatever its range.
 */
const ZONED = "scoped (zone id)";

/** The default: only addresses on the public internet, never one with a zone id. */
export const PUBLIC_ONLY: AddressPolicy = { refuse: (address) => {
  const kind = classifyAddress(address);
  return kind === "public" ? undefined : kind;
} };

/** Every address but one with a zone id, for tests that serve inputs from 127.0.0.1. Never the default. */
export const ANY_ADDRESS: AddressPolicy = { refuse: (address) => {
  const parsed = parseAddress(address);
  if (!parsed) return "invalid";
  return parsed.zone === undefined ? undefined : ZONED;
} };

export type AddressKind =
  | "public" | "invalid" | "unspecified" | "loopback" | "private" | "link-local" | "shared (CGNAT)"
  | "multicast" | "reserved" | "documentation" | "benchmarking" | typeof ZONED;

/**
 * The sentence refusing `host` for `why` (a policy's answer); `resolved`: `host` is a name that
 * resolved to such an address; `purpose`: what the policy guards ("webhooks are sent").
 */
export function refusal(host: string, why: string, resolved = false, purpose = "inputs are fetched"): string {
  const what = why === ZONED ? "an IPv6 address with a zone id, which names a local network interface" : `a ${why} address`;
  return `${host} ${resolved ? "resolves to" : "is"} ${what}; ${purpose} only from public addresses`;
}

/** An address literal, parsed: its family, its value (32 or 128 bits) and an IPv6 zone id if it has one. */
export interface ParsedAddress {
  family: 4 | 6;
  value: bigint;
  zone?: string;
}

/** The one parser of address literals here; undefined when `text` is not one. */
export function parseAddress(text: string): ParsedAddress | undefined {
  const family = isIP(text); // takes a zone id (fe80::1%eth0) on IPv6
  if (family === 4) return { family, value: v4Value(text) };
  if (family !== 6) return undefined;
  const at = text.indexOf("%");
  const value = v6Value(at < 0 ? text : text.slice(0, at));
  if (value === undefined) return undefined;
  return at < 0 ? { family, value } : { family, value, zone: text.slice(at + 1) };
}

/**
 * The address literal `url`'s host is (brackets off, a zone id kept, `%25` decoded), for
 * https://, http:// and scheme-relative (`//host`) URLs; undefined for a host name or other URLs.
 * Text that WHATWG URL refuses is read as it is written: a zone id
 * (https://[fe80::1%25eth0]/, RFC 6874) is one WHATWG URL refuses but Go's parser, and with it
 * the apiserver's CEL url(), takes, so such a URI can reach a worker and is refused by name.
 */
export function urlHostAddress(url: string | URL): string | undefined {
  const parsed = typeof url === "string" ? URL.parse(url) : url;
  let host: string;
  if (parsed) {
    if (parsed.protocol !== "https:" && parsed.protocol !== "http:") return undefined;
    host = parsed.hostname;
  } else {
    const authority = /^(?:https?:)?[/\\]{2}(?:[^/\\?#@[]*@)?(\[[^\]/\\?#]*\]|[^/\\?#:]*)/i.exec(url as string);
    if (!authority) return undefined;
    host = authority[1]!.replace("%25", "%");
  }
  host = host.replace(/^\[(.*)\]$/, "$1");
  return parseAddress(host) ? host : undefined;
}

/** Why `policy` refuses the address literal `url`'s host (a sentence; see urlHostAddress), or undefined. */
export function refuseUrlHost(policy: AddressPolicy, url: string | URL, purpose?: string): string | undefined {
  const host = urlHostAddress(url);
  const why = host === undefined ? undefined : policy.refuse(host);
  return why ? refusal(host!, why, false, purpose) : undefined;
}

type Range = readonly [prefix: bigint, bits: number, kind: AddressKind];

// RFC 6890 and the IANA special-purpose registries; the longest prefix that holds an address wins.
const V4: readonly (readonly [string, number, AddressKind])[] = [
  ["0.0.0.0", 8, "unspecified"],
  ["10.0.0.0", 8, "private"],
  ["100.64.0.0", 10, "shared (CGNAT)"],
  ["127.0.0.0", 8, "loopback"],
  ["169.254.0.0", 16, "link-local"], // includes 169.254.169.254, the cloud metadata service
  ["172.16.0.0", 12, "private"],
  ["192.0.0.0", 24, "reserved"],
  ["192.0.2.0", 24, "documentation"],
  ["192.88.99.0", 24, "reserved"],
  ["192.168.0.0", 16, "private"],
  ["198.18.0.0", 15, "benchmarking"],
  ["198.51.100.0", 24, "documentation"],
  ["203.0.113.0", 24, "documentation"],
  ["224.0.0.0", 4, "multicast"],
  ["240.0.0.0", 4, "reserved"], // and 255.255.255.255, broadcast
];

// The forms that carry an IPv4 address (::/96, ::ffff:0:0/96, ::ffff:0:0:0/96, 64:ff9b::/96,
// 2002::/16) are judged by that address in embeddedV4, before these.
const V6: readonly (readonly [string, number, AddressKind])[] = [
  ["::", 128, "unspecified"],
  ["::1", 128, "loopback"],
  ["100::", 64, "reserved"], // discard-only
  ["64:ff9b:1::", 48, "private"], // local-use NAT64
  ["2001::", 23, "reserved"], // IETF protocol assignments: Teredo (2001::/32), ORCHID and others
  ["2001:db8::", 32, "documentation"],
  ["3fff::", 20, "documentation"],
  ["5f00::", 16, "reserved"], // SRv6 SIDs
  ["fc00::", 7, "private"], // unique local
  ["fe80::", 10, "link-local"],
  ["fec0::", 10, "private"], // site-local, deprecated
  ["ff00::", 8, "multicast"],
];

const V4_RANGES: readonly Range[] = V4.map(([a, bits, kind]) => [v4Value(a), bits, kind]);
const V6_RANGES: readonly Range[] = V6.map(([a, bits, kind]) => [v6Value(a)!, bits, kind]);

/**
 * What kind of address `address` is. An IPv6 form that carries an IPv4 address is judged by
 * that address, so loopback, private and the metadata service are refused in every spelling;
 * an IPv6 address with a zone id is ZONED whatever its range.
 */
export function classifyAddress(address: string): AddressKind {
  const parsed = parseAddress(address);
  if (!parsed) return "invalid";
  if (parsed.zone !== undefined) return ZONED;
  if (parsed.family === 4) return lookupRange(parsed.value, 32, V4_RANGES) ?? "public";
  const embedded = parsed.value > 1n ? embeddedV4(parsed.value) : undefined; // :: and ::1 are IPv6's own
  if (embedded) {
    const kind = lookupRange(embedded.v4, 32, V4_RANGES) ?? "public";
    // IPv4-compatible addresses are deprecated (RFC 4291) and routed nowhere.
    return kind === "public" && embedded.form === "compatible" ? "reserved" : kind;
  }
  return lookupRange(parsed.value, 128, V6_RANGES) ?? "public";
}

function lookupRange(value: bigint, width: number, ranges: readonly Range[]): AddressKind | undefined {
  let best: Range | undefined;
  for (const range of ranges) {
    const [prefix, bits] = range;
    const shift = BigInt(width - bits);
    if (value >> shift === prefix >> shift && (!best || bits > best[1])) best = range;
  }
  return best?.[2];
}

// The /96 prefixes whose last 32 bits are an IPv4 address, by their first 96 bits.
const EMBEDDING_96: ReadonlyMap<bigint, string> = new Map([
  [0n, "compatible"], // ::a.b.c.d, IPv4-compatible (RFC 4291, deprecated)
  [0xffffn, "mapped"], // ::ffff:a.b.c.d, IPv4-mapped
  [0xffff0000n, "translated"], // ::ffff:0:a.b.c.d, IPv4-translated (RFC 2765, RFC 6145)
  [v6Value("64:ff9b::")! >> 32n, "NAT64"], // 64:ff9b::a.b.c.d, the well-known NAT64 prefix (RFC 6052)
]);
const SIX_TO_FOUR = 0x2002n; // 2002:aabb:ccdd::/48, 6to4 (RFC 3056): the IPv4 address in bits 16-48

/** The IPv4 address an IPv6 address carries, and in which form, if it carries one. */
function embeddedV4(value: bigint): { v4: bigint; form: string } | undefined {
  const form = EMBEDDING_96.get(value >> 32n);
  if (form) return { v4: value & 0xffffffffn, form };
  if (value >> 112n === SIX_TO_FOUR) return { v4: (value >> 80n) & 0xffffffffn, form: "6to4" };
  return undefined;
}

function v4Value(address: string): bigint {
  return address.split(".").reduce((acc, part) => (acc << 8n) | BigInt(Number(part)), 0n);
}

/** 128-bit value of an IPv6 literal (with `::` and a trailing dotted quad, no zone id), undefined if malformed. */
function v6Value(address: string): bigint | undefined {
  let text = address;
  const quad = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (quad) {
    if (isIP(quad[1]!) !== 4) return undefined;
    const v = v4Value(quad[1]!);
    text = `${text.slice(0, quad.index)}${(v >> 16n).toString(16)}:${(v & 0xffffn).toString(16)}`;
  }
  const halves = text.split("::");
  if (halves.length > 2) return undefined;
  const head = halves[0] ? halves[0].split(":") : [];
  const tail = halves.length === 2 && halves[1] ? halves[1].split(":") : [];
  const missing = 8 - head.length - tail.length;
  if (halves.length === 1 ? missing !== 0 : missing < 1) return undefined;
  const groups = [...head, ...Array<string>(halves.length === 2 ? missing : 0).fill("0"), ...tail];
  let value = 0n;
  for (const group of groups) {
    if (!/^[0-9a-f]{1,4}$/i.test(group)) return undefined;
    value = (value << 16n) | BigInt(parseInt(group, 16));
  }
  return value;
}
