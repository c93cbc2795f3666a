import type { ListQuery } from "../../../client/index.js";

/** The History page's filters, as its URL keeps them (?status=&model=&from=&to=). */
export interface HistoryFilters {
  status: string;
  model: string;
  /** Days (YYYY-MM-DD, the reader's time zone), both included; "" for open. */
  from: string;
  to: string;
}

const PAGE_SIZE = 25;

export function filtersOf(search: URLSearchParams): HistoryFilters {
  return { status: search.get("status") ?? "", model: search.get("model") ?? "", from: search.get("from") ?? "", to: search.get("to") ?? "" };
}

export function searchOf(filters: HistoryFilters): URLSearchParams {
  const search = new URLSearchParams();
  for (const name of ["status", "model", "from", "to"] as const) if (filters[name]) search.set(name, filters[name]);
  return search;
}

/**
 * GET /v1/jobs's query for the filters, all applied by the API: status, model, and the days as
 * `created_after` (the start of From, in the reader's time zone; inclusive) and `created_before`
 * (the start of the day after To; exclusive); `cursor` pages on.
 */
export function listQueryOf(filters: HistoryFilters, cursor?: string): ListQuery {
  return {
    limit: PAGE_SIZE,
    ...(filters.status ? { status: filters.status } : {}),
    ...(filters.model ? { model: filters.model } : {}),
    ...(filters.from ? { created_after: startOfDay(filters.from) } : {}),
    ...(filters.to ? { created_before: startOfDay(filters.to, 1) } : {}),
    ...(cursor ? { cursor } : {}),
  };
}

/** Midnight starting a YYYY-MM-DD day (`plus` days later) in the reader's time zone. */
function startOfDay(day: string, plus = 0): Date {
  const [y = 0, m = 1, d = 1] = day.split("-").map(Number);
  return new Date(y, m - 1, d + plus);
}
