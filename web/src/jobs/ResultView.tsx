import { useEffect, useState } from "react";
import type { JobView } from "../../../client/index.js";
import type { Api } from "../api/api.js";
import type { JobFile } from "../api/types.js";
import { ErrorAlert, Loading } from "../ui/States.js";
import { CompareViewer } from "./CompareViewer.js";
import { isOcrDocument, OcrView, type OcrDocument } from "./OcrView.js";

type Result =
  | { kind: "image"; output: string; input: string | null }
  | { kind: "ocr"; doc: OcrDocument; input: string | null }
  | { kind: "other"; contentType: string };

/**
 * A succeeded job's result: the output (GET /output) against its input (the file just sent,
 * else GET /input, which a job without an uploaded input does not have), as blob: URLs freed
 * when the page goes. `onOutput` gets the output, for Download.
 */
export function ResultView({ api, view, localInput, mask, onOutput }: { api: Api; view: JobView; localInput: Blob | null; mask: boolean; onOutput: (file: JobFile) => void }) {
  const [result, setResult] = useState<Result | { kind: "loading" } | { kind: "error"; error: unknown }>({ kind: "loading" });

  useEffect(() => {
    let current = true;
    const urls: string[] = [];
    const url = (blob: Blob) => {
      const u = URL.createObjectURL(blob);
      urls.push(u);
      return u;
    };
    const load = async (): Promise<Result> => {
      const output = await api.jobFile(view.id, "output");
      onOutput(output);
      const input = localInput ?? (await api.jobFile(view.id, "input").then((f) => f.blob, () => null));
      if (output.contentType.includes("json")) {
        const doc: unknown = JSON.parse(await output.blob.text());
        if (isOcrDocument(doc)) return { kind: "ocr", doc, input: input && url(input) };
        return { kind: "other", contentType: output.contentType };
      }
      if (!output.contentType.startsWith("image/")) return { kind: "other", contentType: output.contentType };
      return { kind: "image", output: url(output.blob), input: input && url(input) };
    };
    load().then(
      (r) => current && setResult(r),
      (error: unknown) => current && setResult({ kind: "error", error }),
    );
    return () => {
      current = false;
      for (const u of urls) URL.revokeObjectURL(u);
    };
    // The output of a succeeded job never changes: loaded once per job.
  }, [api, view.id]);

  if (result.kind === "loading") return <Loading what="the result" />;
  if (result.kind === "error") return <ErrorAlert error={result.error} />;
  if (result.kind === "ocr") return <OcrView doc={result.doc} input={result.input} />;
  if (result.kind === "other") return <p>The output is {result.contentType}: use Download to save it.</p>;
  const width = view.output?.width ?? 512;
  const height = view.output?.height ?? 512;
  return <CompareViewer before={result.input} after={result.output} width={width} height={height} mask={mask} />;
}
