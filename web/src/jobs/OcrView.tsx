import { useState } from "react";
import { ZoomPan } from "./ZoomPan.js";

/** The OCR pipeline's output document (worker/inference/pipelines/ocr.ts). */
export interface OcrDocument {
  width: number;
  height: number;
  lines: Array<{ text: string; confidence: number; box: Array<[number, number]> }>;
}

export function isOcrDocument(value: unknown): value is OcrDocument {
  const doc = value as Partial<OcrDocument> | null;
  return typeof doc === "object" && doc !== null && typeof doc.width === "number" && typeof doc.height === "number" && Array.isArray(doc.lines);
}

/** The lines found, boxed over the input (when the platform holds it), and their text to read and copy. */
export function OcrView({ doc, input }: { doc: OcrDocument; input: string | null }) {
  const [copied, setCopied] = useState<string | null>(null);
  const text = doc.lines.map((l) => l.text).join("\n");
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(text);
      setCopied("Text copied.");
    } catch {
      setCopied("The browser did not allow copying: select the text and copy it.");
    }
  };
  return (
    <div className="ocr">
      {input !== null && (
        <ZoomPan width={doc.width} height={doc.height} label="Input with the text lines found">
          <img className="layer" src={input} alt="Input" draggable={false} />
          <svg className="layer" viewBox={`0 0 ${doc.width} ${doc.height}`} aria-hidden="true">
            {doc.lines.map((l, i) => (
              <polygon key={i} className="ocr-box" points={l.box.map(([x, y]) => `${x},${y}`).join(" ")}>
                <title>{`${l.text} (${Math.round(l.confidence * 100)}%)`}</title>
              </polygon>
            ))}
          </svg>
        </ZoomPan>
      )}
      <div className="stack-tight">
        <label htmlFor="ocr-text">Text ({doc.lines.length} {doc.lines.length === 1 ? "line" : "lines"})</label>
        <textarea id="ocr-text" readOnly rows={Math.min(16, Math.max(4, doc.lines.length + 1))} value={text} />
        <div className="actions">
          <button type="button" onClick={() => void copy()} disabled={!text}>Copy text</button>
          <span role="status">{copied}</span>
        </div>
      </div>
    </div>
  );
}
