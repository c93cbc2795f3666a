import type { RequestHandler, Response } from "express";
import { REQUEST_ID_HEADER, requestIdFor } from "../../common/request-id.js";

/**
 * First in the chain: the request's id is the caller's `X-Request-Id` when well-formed
 * (common/request-id.ts), else a new UUID. It goes back in the response's `X-Request-Id`, on the
 * request's log line, in problem+json bodies (`request_id`) and on the ImageJob a submit creates.
 */
export function requestIds(): RequestHandler {
  return (req, res, next) => {
    const id = requestIdFor(req.get(REQUEST_ID_HEADER));
    res.locals.requestId = id;
    res.setHeader(REQUEST_ID_HEADER, id);
    next();
  };
}

/** The id requestIds gave the request; undefined only in an app without it. */
export function requestIdOf(res: Response): string | undefined {
  const id: unknown = res.locals.requestId;
  return typeof id === "string" ? id : undefined;
}
