import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { randomBytes } from "node:crypto";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";

const run = promisify(execFile);

export interface Pki {
  caCert: string;
  servingCert: string;
  servingKey: string;
  serviceAccountKey: string;
  serviceAccountPub: string;
  tokenFile: string;
  /** Bearer token of the admin user (group system:masters). */
  adminToken: string;
}

/** A throwaway CA, an apiserver serving cert for 127.0.0.1, service-account keys and an admin token. */
export async function makePki(dir: string): Promise<Pki> {
  const p = (name: string) => join(dir, name);
  const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
  await run("openssl", ["req", "-x509", ...ec, "-keyout", p("ca.key"), "-out", p("ca.crt"), "-days", "30", "-subj", "/CN=pixelmill-local-ca"]);
  await run("openssl", ["req", ...ec, "-keyout", p("apiserver.key"), "-out", p("apiserver.csr"), "-subj", "/CN=kube-apiserver"]);
  const sans = "subjectAltName=IP:127.0.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc";
  await writeFile(p("apiserver.ext"), `${sans}\nextendedKeyUsage=serverAuth\n`);
  await run("openssl", ["x509", "-req", "-in", p("apiserver.csr"), "-CA", p("ca.crt"), "-CAkey", p("ca.key"), "-CAcreateserial",
    "-out", p("apiserver.crt"), "-days", "30", "-extfile", p("apiserver.ext")]);
  await run("openssl", ["ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", p("sa.key")]);
  await run("openssl", ["ec", "-in", p("sa.key"), "-pubout", "-out", p("sa.pub")]);
  const adminToken = randomBytes(24).toString("hex");
  // token,user,uid,"group1,group2": the static token file kube-apiserver reads.
  await writeFile(p("tokens.csv"), `${adminToken},pixelmill-admin,pixelmill-admin,"system:masters"\n`, { mode: 0o600 });
  return {
    caCert: p("ca.crt"),
    servingCert: p("apiserver.crt"),
    servingKey: p("apiserver.key"),
    serviceAccountKey: p("sa.key"),
    serviceAccountPub: p("sa.pub"),
    tokenFile: p("tokens.csv"),
    adminToken,
  };
}

export interface FrontProxyPki {
  /** The CA the apiserver tells extension apiservers to trust for proxied requests (--requestheader-client-ca-file). */
  caCert: string;
  /** The client cert the aggregator presents to them (--proxy-client-cert-file/-key-file), CN FRONT_PROXY_CLIENT. */
  clientCert: string;
  clientKey: string;
}

export const FRONT_PROXY_CLIENT = "front-proxy-client";

/** A front-proxy CA and the aggregator's client cert: what the apiserver's aggregation layer needs. */
export async function makeFrontProxyPki(dir: string): Promise<FrontProxyPki> {
  const p = (name: string) => join(dir, name);
  const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
  await run("openssl", ["req", "-x509", ...ec, "-keyout", p("front-proxy-ca.key"), "-out", p("front-proxy-ca.crt"), "-days", "30", "-subj", "/CN=pixelmill-front-proxy-ca"]);
  await run("openssl", ["req", ...ec, "-keyout", p("front-proxy-client.key"), "-out", p("front-proxy-client.csr"), "-subj", `/CN=${FRONT_PROXY_CLIENT}`]);
  await writeFile(p("front-proxy-client.ext"), "extendedKeyUsage=clientAuth\n");
  await run("openssl", ["x509", "-req", "-in", p("front-proxy-client.csr"), "-CA", p("front-proxy-ca.crt"), "-CAkey", p("front-proxy-ca.key"), "-CAcreateserial",
    "-out", p("front-proxy-client.crt"), "-days", "30", "-extfile", p("front-proxy-client.ext")]);
  return { caCert: p("front-proxy-ca.crt"), clientCert: p("front-proxy-client.crt"), clientKey: p("front-proxy-client.key") };
}
