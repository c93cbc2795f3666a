import { describe, expect, it } from "vitest";
import { ANY_ADDRESS, PUBLIC_ONLY, classifyAddress, type AddressKind } from "./address-policy.js";

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
  ["fe80::1%eth0", "link-local"],
  ["febf:ffff::1", "link-local"],
  ["fec0::1", "private"],
  ["ff02::1", "multicast"],
  ["2001:db8::1", "documentation"],
  ["2001::1", "reserved"],
  ["100::1", "reserved"],
  ["::7f00:1", "reserved"], // IPv4-compatible ::127.0.0.1
  // IPv6 that carries IPv4: judged by the IPv4 address
  ["::ffff:127.0.0.1", "loopback"],
  ["::ffff:7f00:1", "loopback"],
  ["::FFFF:169.254.169.254", "link-local"],
  ["::ffff:a9fe:a9fe", "link-local"],
  ["::ffff:10.1.2.3", "private"],
  ["::ffff:8.8.8.8", "public"],
  ["64:ff9b::10.0.0.1", "private"],
  ["64:ff9b::8.8.8.8", "public"],
  ["64:ff9b:1::1", "private"],
  ["2002:7f00:1::1", "loopback"], // 6to4 of 127.0.0.1
  ["2002:a9fe:a9fe::", "link-local"],
  ["2002:808:808::1", "public"],
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

  it("ANY_ADDRESS takes every address but refuses what is not one", () => {
    expect(ANY_ADDRESS.refuse("127.0.0.1")).toBeUndefined();
    expect(ANY_ADDRESS.refuse("::1")).toBeUndefined();
    expect(ANY_ADDRESS.refuse("not-an-ip")).toBe("invalid");
  });
});
