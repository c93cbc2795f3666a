import { describe, expect, it } from "vitest";
import { ANY_ADDRESS, PUBLIC_ONLY, classifyAddress, parseAddress, refuseUrlHost, urlHostAddress, type AddressKind } from "./address-policy.js";

const TABLE: readonly (readonly [string, AddressKind])[] = [
  // IPv4
  ["8.8.8.8", "public"],
  ["1.1.1.1", "public"],
  ["93.184.216.34", "public"],
  ["0.0.0.0", "unspecified"],
  ["0.1.2.3", "unspecified"],
  ["127.0.0.1", "loopback"],
  ["127.255.255.254", "loopback"],
  ["10.0.0.1", "private"],
  ["10.255.255.255", "private"],
  ["172.15.255.255", "public"],
  ["172.16.0.1", "private"],
  ["172.31.255.255", "private"],
  ["172.32.0.0", "public"],
  ["192.168.1.1", "private"],
  ["169.254.169.254", "link-local"],
  ["169.254.0.1", "link-local"],
  ["100.63.255.255", "public"],
  ["100.64.0.1", "shared (CGNAT)"],
  ["100.127.255.255", "shared (CGNAT)"],
  ["100.128.0.0", "public"],
  ["192.0.0.8", "reserved"],
  ["192.0.2.1", "documentation"],
  ["198.18.0.1", "benchmarking"],
  ["198.51.100.7", "documentation"],
  ["203.0.113.9", "documentation"],
  ["224.0.0.1", "multicast"],
  ["239.255.255.250", "multicast"],
  ["240.0.0.1", "reserved"],
  ["255.255.255.255", "reserved"],
  // IPv6
  ["2606:4700:4700::1111", "public"],
  ["2001:4860:4860::8888", "public"],
  ["::", "unspecified"],
  ["::1", "loopback"],
  ["0:0:0:0:0:0:0:1", "loopback"],
  ["fc00::1", "private"],
  ["fd12:3456:789a::1", "private"],
  ["fe80::1", "link-local"],
  ["febf:ffff::1", "link-local"],
  ["fec0::1", "private"],
  ["ff02::1", "multicast"],
  ["2001:db8::1", "documentation"],
  ["2001::1", "reserved"],
  ["100::1", "reserved"],
  ["3fff::1", "documentation"],
  ["5f00::1", "reserved"],
  // a zone id, refused whatever the range
  ["fe80::1%eth0", "scoped (zone id)"],
  ["fe80::1%25eth0", "scoped (zone id)"],
  ["fe80::1%1", "scoped (zone id)"],
  ["2606:4700:4700::1111%eth0", "scoped (zone id)"],
  ["::ffff:8.8.8.8%eth0", "scoped (zone id)"],
  ["fe80::1%", "invalid"],
  // IPv6 that carries IPv4: judged by the IPv4 address
  ["::ffff:127.0.0.1", "loopback"],
  ["::ffff:7f00:1", "loopback"],
  ["::FFFF:169.254.169.254", "link-local"],
  ["::ffff:a9fe:a9fe", "link-local"],
  ["::ffff:10.1.2.3", "private"],
  ["::ffff:8.8.8.8", "public"],
  ["0:0:0:0:0:ffff:127.0.0.1", "loopback"],
  ["::ffff:0:127.0.0.1", "loopback"], // IPv4-translated (RFC 2765, RFC 6145)
  ["::ffff:0:7f00:1", "loopback"],
  ["::FFFF:0:169.254.169.254", "link-local"],
  ["::ffff:0:a00:1", "private"],
  ["::ffff:0:8.8.8.8", "public"],
  ["::127.0.0.1", "loopback"], // IPv4-compatible (deprecated)
  ["::7f00:1", "loopback"],
  ["::169.254.169.254", "link-local"],
  ["::10.0.0.1", "private"],
  ["::0.0.0.2", "unspecified"],
  ["::8.8.8.8", "reserved"], // routed nowhere
  ["64:ff9b::127.0.0.1", "loopback"],
  ["64:ff9b::a9fe:a9fe", "link-local"],
  ["64:ff9b::10.0.0.1", "private"],
  ["64:ff9b::8.8.8.8", "public"],
  ["64:ff9b:1::1", "private"],
  ["2002:7f00:1::1", "loopback"], // 6to4 of 127.0.0.1
  ["2002:a9fe:a9fe::", "link-local"],
  ["2002:808:808::1", "public"],
  ["2002:a00:1::", "private"],
  ["2001:0:4136:e378:8000:63bf:3fff:fdd2", "reserved"], // Teredo
  ["2001::7f00:1", "reserved"],
  // not addresses
  ["", "invalid"],
  ["localhost", "invalid"],
  ["256.1.1.1", "invalid"],
  ["1:2:3:4:5:6:7:8:9", "invalid"],
  ["::ffff:999.0.0.1", "invalid"],
];

describe("classifyAddress", () => {
  it.each(TABLE)("%s is %s", (address, kind) => {
    expect(classifyAddress(address)).toBe(kind);
  });
});

describe("policies", () => {
  it("PUBLIC_ONLY refuses every non-public address, naming its kind", () => {
    for (const [address, kind] of TABLE) {
      expect(PUBLIC_ONLY.refuse(address), address).toBe(kind === "public" ? undefined : kind);
    }
  });

  it("ANY_ADDRESS takes every address but refuses what is not one, and a zone id", () => {
    expect(ANY_ADDRESS.refuse("127.0.0.1")).toBeUndefined();
    expect(ANY_ADDRESS.refuse("::1")).toBeUndefined();
    expect(ANY_ADDRESS.refuse("not-an-ip")).toBe("invalid");
    expect(ANY_ADDRESS.refuse("fe80::1%eth0")).toBe("scoped (zone id)");
  });
});

describe("parseAddress", () => {
  it("parses a literal once: family, value and zone id", () => {
    expect(parseAddress("127.0.0.1")).toEqual({ family: 4, value: 0x7f000001n });
    expect(parseAddress("::ffff:127.0.0.1")).toEqual({ family: 6, value: 0xffff7f000001n });
    expect(parseAddress("::ffff:7f00:1")).toEqual(parseAddress("::ffff:127.0.0.1"));
    expect(parseAddress("fe80::1%eth0")).toEqual({ family: 6, value: 0xfe80n << 112n | 1n, zone: "eth0" });
    expect(parseAddress("example.com")).toBeUndefined();
  });
});

describe("addresses in URLs", () => {
  it.each([
    ["https://127.0.0.1/x.png", "127.0.0.1"],
    ["https://0x7f.1/x.png", "127.0.0.1"], // as WHATWG URL reads it
    ["https://[::ffff:0:127.0.0.1]:8443/x", "::ffff:0:7f00:1"],
    ["https://[fe80::1%25eth0]/x.png", "fe80::1%eth0"], // WHATWG URL refuses it, Go's parser does not
    ["HTTPS://user@[fe80::1%25eth0]:443/x.png", "fe80::1%eth0"],
    ["//[fe80::1%25eth0]/x.png", "fe80::1%eth0"], // a redirect's scheme-relative Location
    ["https://[fe80::1%eth0]/", "fe80::1%eth0"],
    ["https://example.com/x.png", undefined],
    ["s3://10.0.0.1/key", undefined],
    ["/relative/path", undefined],
  ])("%s names %s", (url, host) => {
    expect(urlHostAddress(url)).toBe(host);
  });

  it("refuses a zone id by any policy, and other hosts by the policy's kinds", () => {
    const zoned = "fe80::1%eth0 is an IPv6 address with a zone id, which names a local network interface; inputs are fetched only from public addresses";
    expect(refuseUrlHost(PUBLIC_ONLY, "https://[fe80::1%25eth0]/x.png")).toBe(zoned);
    expect(refuseUrlHost(ANY_ADDRESS, "https://[fe80::1%25eth0]/x.png")).toBe(zoned);
    expect(refuseUrlHost(PUBLIC_ONLY, "https://[::ffff:0:127.0.0.1]/")).toBe("::ffff:0:7f00:1 is a loopback address; inputs are fetched only from public addresses");
    expect(refuseUrlHost(ANY_ADDRESS, "https://127.0.0.1/")).toBeUndefined();
    expect(refuseUrlHost(PUBLIC_ONLY, "https://8.8.8.8/")).toBeUndefined();
    expect(refuseUrlHost(PUBLIC_ONLY, "https://localhost/")).toBeUndefined(); // names are resolved, then checked
  });
});
