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

/** The default: only addresses on the public internet. */
export const PUBLIC_ONLY: AddressPolicy = { refuse: (address) => {
  const kind = classifyAddress(address);
  return kind === "public" ? undefined : kind;
} };

/** Every address, for tests that serve inputs from 127.0.0.1. Never the default. */
export const ANY_ADDRESS: AddressPolicy = { refuse: (address) => (isIP(address) ? undefined : "invalid") };

export type AddressKind =
  | "public" | "invalid" | "unspecified" | "loopback" | "private" | "link-local" | "shared (CGNAT)"
  | "multicast" | "reserved" | "documentation" | "benchmarking";

type Range = readonly [prefix: bigint, bits: number, kind: AddressKind];

// RFC 6890 and the IANA special-purpose registries, most specific first where they nest.
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

const V6: readonly (readonly [string, number, AddressKind])[] = [
  ["::", 128, "unspecified"],
  ["::1", 128, "loopback"],
  ["::", 96, "reserved"], // IPv4-compatible, deprecated
  ["100::", 64, "reserved"], // discard-only
  ["64:ff9b:1::", 48, "private"], // local-use NAT64
  ["2001::", 23, "reserved"], // IETF protocol assignments, Teredo among them
  ["2001:db8::", 32, "documentation"],
  ["fc00::", 7, "private"], // unique local
  ["fe80::", 10, "link-local"],
  ["fec0::", 10, "private"], // site-local, deprecated
  ["ff00::", 8, "multicast"],
];

const V4_RANGES: readonly Range[] = V4.map(([a, bits, kind]) => [v4Value(a), bits, kind]);
const V6_RANGES: readonly Range[] = V6.map(([a, bits, kind]) => [v6Value(a)!, bits, kind]);

/** What kind of address `address` is; IPv6 forms that carry an IPv4 address are judged by it. */
export function classifyAddress(address: string): AddressKind {
  const family = isIP(address);
  if (family === 4) return lookupRange(v4Value(address), 32, V4_RANGES) ?? "public";
  if (family !== 6) return "invalid";
  const value = v6Value(address.replace(/%.*$/, "")); // a zone index (fe80::1%eth0) says nothing of the range
  if (value === undefined) return "invalid";
  const embedded = embeddedV4(value);
  if (embedded !== undefined) return lookupRange(embedded, 32, V4_RANGES) ?? "public";
  return lookupRange(value, 128, V6_RANGES) ?? "public";
}

function lookupRange(value: bigint, width: number, ranges: readonly Range[]): AddressKind | undefined {
  // Longest prefix wins, so ::1/128 is loopback even though ::/96 also holds it.
  let best: Range | undefined;
  for (const range of ranges) {
    const [prefix, bits] = range;
    const shift = BigInt(width - bits);
    if (value >> shift === prefix >> shift && (!best || bits > best[1])) best = range;
  }
  return best?.[2];
}

const MAPPED = v6Value("::ffff:0:0")!; // ::ffff:a.b.c.d, IPv4-mapped
const NAT64 = v6Value("64:ff9b::")!; // 64:ff9b::a.b.c.d, well-known NAT64 prefix
const SIX_TO_FOUR = v6Value("2002::")!; // 2002:aabb:ccdd::/48, 6to4

/** The IPv4 address an IPv6 address stands for (mapped, NAT64, 6to4), if any. */
function embeddedV4(value: bigint): bigint | undefined {
  const low32 = value & 0xffffffffn;
  if (value >> 32n === MAPPED >> 32n || value >> 32n === NAT64 >> 32n) return low32;
  if (value >> 112n === SIX_TO_FOUR >> 112n) return (value >> 80n) & 0xffffffffn;
  return undefined;
}

function v4Value(address: string): bigint {
  return address.split(".").reduce((acc, part) => (acc << 8n) | BigInt(Number(part)), 0n);
}

/** 128-bit value of an IPv6 literal (with `::` and a trailing dotted quad), undefined if malformed. */
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
