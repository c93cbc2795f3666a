import { stat } from "node:fs/promises";
import { join, resolve } from "node:path";
import express, { Router, type Request, type RequestHandler, type Response } from "express";
import { NotFoundError } from "../../domain/errors.js";

/**
 * The console's own headers: scripts, styles, fonts and connections (fetch, EventSource and the
 * same-origin WebSocket, which CSP3 browsers count under 'self') from this origin only; images
 * also from blob: and data: (previews, downloads shown in place); never framed. API answers do
 * not get these: they are JSON, not pages.
 */
export const CONSOLE_CSP = [
  "default-src 'self'", "script-src 'self'", "style-src 'self'", "img-src 'self' blob: data:", "font-src 'self'", "connect-src 'self'",
  "object-src 'none'", "base-uri 'none'", "form-action 'self'", "frame-ancestors 'none'",
].join("; ");

function securityHeaders(res: Response): void {
  res.setHeader("Content-Security-Policy", CONSOLE_CSP);
  res.setHeader("X-Content-Type-Options", "nosniff");
  res.setHeader("Referrer-Policy", "no-referrer");
  res.setHeader("X-Frame-Options", "DENY");
  res.setHeader("Cross-Origin-Opener-Policy", "same-origin");
}

/** Paths the console never answers: the API's own, whose unknown paths stay JSON problems. */
const API_PATHS = /^\/(v1|healthz|readyz|metrics|openapi\.json|assets)(\/|$)/;

/** A page load (a browser navigating), not a fetch of data or a script: it names text/html itself. */
function wantsPage(req: Request): boolean {
  return (req.method === "GET" || req.method === "HEAD") && !API_PATHS.test(req.path) && /\btext\/html\b/i.test(req.get("accept") ?? "");
}

/**
 * The web console (web/, built into `dir` by `npm run build`): its content-hashed files under
 * /assets/ cached for a year, index.html never without asking again, and index.html for any other
 * page path (the console's own routes, History API). Mounted after every API route.
 */
export function consoleRoutes(opts: { dir: string }): Router {
  const dir = resolve(opts.dir);
  const index = join(dir, "index.html");
  const router = Router();

  router.use("/assets", express.static(join(dir, "assets"), {
    index: false, redirect: false, dotfiles: "ignore", immutable: true, maxAge: "365d", etag: true, lastModified: false,
    setHeaders: (res) => securityHeaders(res),
  }));

  const page: RequestHandler = async (req, res, next) => {
    if (!wantsPage(req) && !(req.path === "/" && (req.method === "GET" || req.method === "HEAD"))) return next();
    if (!(await stat(index).then((s) => s.isFile(), () => false))) throw new NotFoundError("the web console is not built: run npm run build");
    securityHeaders(res);
    res.setHeader("Cache-Control", "no-cache");
    // A fixed path, never the request's: the folder above it may be a dot folder.
    res.sendFile(index, { cacheControl: false, dotfiles: "allow", lastModified: true }, (err?: Error) => {
      if (err && !res.headersSent) next(err);
    });
  };
  router.use(page);
  // The build's other top-level files (a favicon, robots.txt): asked again each time, as index.html is.
  const files = express.static(dir, { index: false, redirect: false, dotfiles: "ignore", etag: true, cacheControl: false, setHeaders: (res) => {
    securityHeaders(res);
    res.setHeader("Cache-Control", "no-cache");
  } });
  router.use((req, res, next) => (API_PATHS.test(req.path) ? next() : files(req, res, next)));
  return router;
}
