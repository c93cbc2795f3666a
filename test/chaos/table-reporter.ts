import type { Reporter, TestModule } from "vitest/node";
import { formatTable } from "./table.js";

/** Ends `npm run test:chaos` with the table of every case, passed or not (rows come from test meta). */
export default class ChaosTableReporter implements Reporter {
  onTestRunEnd(modules: ReadonlyArray<TestModule>): void {
    const rows = [];
    for (const m of modules) {
      for (const test of m.children.allTests()) {
        const result = test.result();
        const error = result.state === "failed" ? result.errors?.[0]?.message?.split("\n", 1)[0] : undefined;
        rows.push({ row: test.meta().chaos, name: test.name, result: error ? `${result.state}: ${error.slice(0, 120)}` : result.state, ms: test.diagnostic()?.duration });
      }
    }
    console.log(`\nChaos suite: every job accounted for\n\n${formatTable(rows)}\n`);
  }
}
