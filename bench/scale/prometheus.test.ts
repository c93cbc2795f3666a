import { expect, it } from "vitest";
import { delta, parseSamples, sumBy } from "./prometheus.js";
import { parseStat } from "../proc.js";
import { commandName } from "./snapshot.js";

const page = `# HELP apiserver_request_total Counter of apiserver requests
# TYPE apiserver_request_total counter
apiserver_request_total{code="201",component="apiserver",group="pixelmill.io",resource="imagejobs",scope="resource",subresource="",verb="POST",version="v1alpha1"} 120
apiserver_request_total{code="200",component="apiserver",group="pixelmill.io",resource="imagejobs",scope="resource",subresource="status",verb="PUT",version="v1alpha1"} 300
apiserver_request_total{code="409",component="apiserver",group="pixelmill.io",resource="imagejobs",scope="resource",subresource="status",verb="PUT",version="v1alpha1"} 4
apiserver_request_total{code="200",component="apiserver",group="coordination.k8s.io",resource="leases",scope="resource",subresource="",verb="PUT",version="v1"} 7.5e+01
etcd_mvcc_db_total_size_in_bytes 2.5e+06
other_metric{path="a\\"b"} 1
`;

it("sums apiserver_request_total by verb and resource, codes together", () => {
  const by = sumBy(parseSamples(page, ["apiserver_request_total"]), "apiserver_request_total", (l) => `${l.verb} ${l.resource}${l.subresource ? `/${l.subresource}` : ""}`);
  expect(Object.fromEntries(by)).toEqual({ "POST imagejobs": 120, "PUT imagejobs/status": 304, "PUT leases": 75 });
});

it("reads unlabelled samples, escaped label values, and differences of counters", () => {
  const all = parseSamples(page);
  expect(all.find((s) => s.name === "etcd_mvcc_db_total_size_in_bytes")?.value).toBe(2_500_000);
  expect(all.find((s) => s.name === "other_metric")?.labels).toEqual({ path: 'a"b' });
  expect(Object.fromEntries(delta(new Map([["a", 1], ["b", 5]]), new Map([["a", 4], ["b", 5], ["c", 2]])))).toEqual({ a: 3, b: 0, c: 2 });
});

it("reads /proc/<pid>/stat past a command name with spaces and parentheses", () => {
  const fields = [..."S 42 1 1 0 -1 4194560 100 0 0 0".split(" "), "250", "50", ...Array.from({ length: 8 }, () => "0"), "1234", "0"];
  // Fields from 3 on; utime and stime are fields 14 and 15, rss is field 24.
  const stat = `777 (node (x) y) ${fields.join(" ")}`;
  expect(parseStat(stat)).toMatchObject({ ppid: 42, utime: 250, stime: 50, rssPages: 1234 });
});

it("names processes by program", () => {
  expect(commandName(["postgres: walwriter "])).toBe("postgres");
  expect(commandName(["/usr/bin/redis-server 127.0.0.1:6379"])).toBe("redis-server");
  expect(commandName(["/tmp/bin/kube-apiserver", "--etcd-servers=x"])).toBe("kube-apiserver");
});
