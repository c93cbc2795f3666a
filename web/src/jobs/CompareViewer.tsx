import { useState } from "react";
import { ZoomPan } from "./ZoomPan.js";

/**
 * The output over its input: a divider the "Compare" slider moves (input on its left, output on
 * its right), or, for a mask, the mask laid over the input; with no input, the output alone.
 */
export function CompareViewer({ before, after, width, height, mask }: { before: string | null; after: string; width: number; height: number; mask: boolean }) {
  const [split, setSplit] = useState(50);
  const [overlay, setOverlay] = useState(mask);
  const compare = before !== null && !overlay;
  return (
    <div className="stack-tight">
      <ZoomPan width={width} height={height} label={compare ? "Input and output compared" : "Output"}>
        {before !== null && <img className="layer" src={before} alt="Input" draggable={false} />}
        <img
          className={`layer${overlay && before !== null ? " mask-overlay" : ""}`}
          src={after}
          alt="Output"
          draggable={false}
          style={compare ? { clipPath: `inset(0 0 0 ${split}%)` } : undefined}
        />
        {compare && <div className="divider" style={{ left: `${split}%` }} aria-hidden="true" />}
      </ZoomPan>
      {compare && (
        <div className="compare-control">
          <label htmlFor="compare">Compare</label>
          <div className="compare-track">
            <span className="muted" aria-hidden="true">Input</span>
            <input id="compare" type="range" min={0} max={100} value={split} aria-valuetext={`${split}% input, ${100 - split}% output`} onChange={(e) => setSplit(Number(e.target.value))} />
            <span className="muted" aria-hidden="true">Output</span>
          </div>
        </div>
      )}
      {mask && before !== null && (
        <label className="field-check">
          <input type="checkbox" checked={overlay} onChange={(e) => setOverlay(e.target.checked)} /> Overlay the mask on the input
        </label>
      )}
    </div>
  );
}
