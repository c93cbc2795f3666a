import type { RequestHandler, Response } from "express";
import { requireScope, type Authenticate } from "../domain/authenticate.js";
import { RateLimitedError, UnauthenticatedError } from "../domain/errors.js";
import type { RateDecision } from "../domain/ports.js";
import type { Principal, Scope } from "../domain/principal.js";

/**
 * The route's guard: the request's bearer key must resolve to a principal holding `scope`
 * (401 otherwise, 403 naming the scope when only that is missing). The principal is left in
 * res.locals for the route. Health probes and signed file URLs take no key and have no guard.
 */
export function requireKey(auth: Authenticate, scope: Scope | undefined): RequestHandler {
  return async (req, res, next) => {
    const principal = await auth.principal(bearer(req.get("authorization")));
    const rate = await auth.admit(principal);
    if (rate) {
      setRateLimitHeaders(res, rate);
      if (!rate.allowed) throw new RateLimitedError(rate.limit, rate.resetSeconds);
    }
    if (scope !== undefined) requireScope(principal, scope);
    res.locals.principal = principal;
    next();
  };
}

/** The principal requireKey found; only routes behind it call this. */
export function principalOf(res: Response): Principal {
  const principal = res.locals.principal as Principal | undefined;
  if (!principal) throw new Error("a route read the principal without requireKey before it");
  return principal;
}

/** The policy name of RateLimit-Policy and RateLimit (draft-ietf-httpapi-ratelimit-headers). */
const POLICY = "default";

/**
 * The IETF RateLimit headers (draft-ietf-httpapi-ratelimit-headers): the policy (quota `q` per
 * window `w` seconds) and what is left of it (`r` requests, reset in `t` seconds). Set before the
 * route runs, so every answer to a keyed request carries them, errors included.
 */
export function setRateLimitHeaders(res: Response, rate: RateDecision): void {
  res.setHeader("RateLimit-Policy", `"${POLICY}";q=${rate.limit};w=${rate.windowSeconds}`);
  res.setHeader("RateLimit", `"${POLICY}";r=${rate.remaining};t=${rate.resetSeconds}`);
}

/** The key of an `Authorization: Bearer <key>` header; UnauthenticatedError for another form. */
export function bearer(header: string | undefined): string | undefined {
  if (header === undefined) return undefined;
  const m = /^Bearer +(\S+) *$/i.exec(header);
  if (!m) throw new UnauthenticatedError("the Authorization header must be: Bearer <key>");
  return m[1];
}
