import { existsSync } from "node:fs";
import { mkdir, readFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { join } from "node:path";
import { chromium, type Browser, type BrowserContext, type Page } from "playwright-core";
import { projectRoot } from "../../devstack/binaries.js";

/**
 * Debian's Chromium driven by playwright-core, for the console's end-to-end test
 * (test/e2e/console.test.ts): launch, a record of every request a page makes, axe-core's
 * accessibility checks, and screenshots at desktop and phone widths for review by eye.
 */
export const CHROMIUM = "/usr/bin/chromium";
export const DESKTOP = { width: 1280, height: 800 };
export const PHONE = { width: 390, height: 844 };
/** Where the screenshots go, `<page>-desktop.png` and `<page>-phone.png` (git-ignored). */
export const SCREENSHOTS_DIR = join(projectRoot, "test-results/console");

const require = createRequire(import.meta.url);
let axeScript: Promise<string> | undefined;
const axeSource = () => (axeScript ??= readFile(require.resolve("axe-core/axe.min.js"), "utf8"));

/** Headless Chromium; fails with what to install when the system's Chromium is missing. */
export async function launchChromium(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: the console's e2e test drives Debian's chromium (apt-get install chromium)`);
  // --no-sandbox: the tests run as root, where Chromium's sandbox refuses to start.
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args: ["--no-sandbox"] });
}

/** Every URL requested by the context's pages (and their workers), WebSockets included, in order. */
export interface RequestLog {
  urls: string[];
  /** The requests to anything but `origin` (data: and blob: URLs stay in the page; a WebSocket counts by host). */
  foreign(origin: string): string[];
}

/** Records the requests of `context`'s pages from now on (pages opened later included). */
export function recordRequests(context: BrowserContext): RequestLog {
  const urls: string[] = [];
  context.on("request", (request) => urls.push(request.url()));
  context.on("page", (page) => page.on("websocket", (socket) => urls.push(socket.url())));
  return {
    urls,
    foreign(origin) {
      const { host } = new URL(origin);
      return urls.filter((url) => {
        if (url.startsWith("data:") || url.startsWith("blob:")) return false;
        const to = new URL(url);
        return /^wss?:$/.test(to.protocol) ? to.host !== host : to.origin !== origin;
      });
    },
  };
}

/** An axe-core result entry, as far as the test reads it. */
export interface AxeViolation {
  id: string;
  impact?: string | null;
  help: string;
  nodes: Array<{ target: unknown[]; failureSummary?: string }>;
}

/** axe-core's violations of impact serious or critical on the page as it is now. */
export async function seriousAxeViolations(page: Page): Promise<AxeViolation[]> {
  // Evaluated rather than added as a <script>: the console's CSP (script-src 'self') stays on.
  if (!(await page.evaluate(() => "axe" in globalThis))) await page.evaluate(await axeSource());
  const { passes, violations } = await page.evaluate(async () => {
    const { axe } = globalThis as unknown as { axe: { run(): Promise<{ passes: unknown[]; violations: AxeViolation[] }> } };
    const result = await axe.run();
    // Plain data only: the nodes hold DOM references.
    return {
      passes: result.passes.length,
      violations: result.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.map((n) => ({ target: n.target, failureSummary: n.failureSummary })) })),
    };
  });
  if (passes === 0) throw new Error(`axe checked nothing on ${page.url()}`);
  return violations.filter((v) => v.impact === "serious" || v.impact === "critical");
}

/** The violations as lines a failing assertion can print. */
export function describeViolations(where: string, violations: readonly AxeViolation[]): string {
  return violations.map((v) => `${where}: ${v.impact} ${v.id} (${v.help}) at ${v.nodes.map((n) => JSON.stringify(n.target)).join(", ")}`).join("\n");
}

/**
 * Screenshots the page as `<name>-desktop.png` and `<name>-phone.png` (whole page), checking it
 * with axe at desktop width, and at phone width too when `axePhone`. Returns the violations
 * found (serious or critical), labelled; the page is left at desktop width.
 */
export async function capture(page: Page, name: string, opts: { axePhone?: boolean } = {}): Promise<string[]> {
  await mkdir(SCREENSHOTS_DIR, { recursive: true });
  const found: string[] = [];
  await page.setViewportSize(DESKTOP);
  const desktop = await seriousAxeViolations(page);
  if (desktop.length > 0) found.push(describeViolations(`${name} (desktop)`, desktop));
  await page.screenshot({ path: join(SCREENSHOTS_DIR, `${name}-desktop.png`), fullPage: true });
  await page.setViewportSize(PHONE);
  if (opts.axePhone) {
    const phone = await seriousAxeViolations(page);
    if (phone.length > 0) found.push(describeViolations(`${name} (phone)`, phone));
  }
  await page.screenshot({ path: join(SCREENSHOTS_DIR, `${name}-phone.png`), fullPage: true });
  await page.setViewportSize(DESKTOP);
  return found;
}

/** What went wrong in a page: uncaught errors, and console errors (CSP refusals among them). */
export function recordProblems(page: Page): string[] {
  const problems: string[] = [];
  page.on("pageerror", (err) => problems.push(`uncaught: ${err.message}`));
  page.on("console", (message) => {
    if (message.type() === "error") problems.push(`console: ${message.text()}`);
  });
  return problems;
}
