import { execFile } from "node:child_process";
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);

export interface KedaCerts {
  /** Holds ca.crt, tls.crt and tls.key: the names KEDA's operator and adapter read from --cert-dir. */
  dir: string;
  caCert: string;
  cert: string;
  key: string;
}

/**
 * KEDA's certificates as its chart would mount them: one CA and one key pair that serves and
 * authenticates on both ends of the operator ↔ adapter gRPC link (mutual TLS) and serves the
 * adapter's HTTPS to the aggregator, valid for the adapter's Service name and `ips`.
 */
export async function makeKedaCerts(dir: string, service: { name: string; namespace: string }, ips: string[]): Promise<KedaCerts> {
  await mkdir(dir, { recursive: true });
  const p = (name: string) => join(dir, name);
  const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
  await run("openssl", ["req", "-x509", ...ec, "-keyout", p("ca.key"), "-out", p("ca.crt"), "-days", "2", "-subj", "/CN=pixelmill-bench-keda-ca"]);
  await run("openssl", ["req", ...ec, "-keyout", p("tls.key"), "-out", p("tls.csr"), "-subj", "/CN=keda"]);
  const sans = [`DNS:${service.name}.${service.namespace}.svc`, `DNS:${service.name}.${service.namespace}.svc.cluster.local`, ...ips.map((ip) => `IP:${ip}`)];
  await writeFile(p("tls.ext"), `subjectAltName=${sans.join(",")}\nextendedKeyUsage=serverAuth,clientAuth\n`);
  await run("openssl", ["x509", "-req", "-in", p("tls.csr"), "-CA", p("ca.crt"), "-CAkey", p("ca.key"), "-CAcreateserial",
    "-out", p("tls.crt"), "-days", "2", "-extfile", p("tls.ext")]);
  return { dir, caCert: p("ca.crt"), cert: p("tls.crt"), key: p("tls.key") };
}
