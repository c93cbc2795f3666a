import type { BatchItemEntry, BatchItemPage } from "../domain/batch-items.js";
import type { JobRecord } from "../domain/job-record.js";
import type { JobPresenter } from "./job-presenter.js";
import type { BatchItemListView, BatchItemView } from "./schemas.js";

/** A page of a batch's items as the API shows them: lower-case statuses, snake_case, each output signed as a job's is. */
export async function presentBatchItems(page: BatchItemPage, presenter: Pick<JobPresenter, "outputView">): Promise<BatchItemListView> {
  const items = await Promise.all(page.items.map((entry) => presentItem(entry, page.record, presenter)));
  return { total: page.total, items, next_cursor: page.nextCursor };
}

async function presentItem(entry: BatchItemEntry, record: JobRecord, presenter: Pick<JobPresenter, "outputView">): Promise<BatchItemView> {
  const r = entry.result;
  const filename = entry.filename ?? null;
  if (!r) return { index: entry.index, input: entry.input, filename, status: "pending", attempts: null, finished_at: null, error: null, output: null };
  return {
    index: entry.index,
    input: entry.input,
    filename,
    status: r.phase === "Succeeded" ? "succeeded" : r.phase === "Failed" ? "failed" : "canceled",
    attempts: r.attempts,
    finished_at: r.finishedAt,
    error: r.error ?? null,
    output: r.phase === "Succeeded" && r.output ? await presenter.outputView(record, r.output) : null,
  };
}
