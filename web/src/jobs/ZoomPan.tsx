import { useEffect, useRef, useState, type KeyboardEvent, type PointerEvent, type ReactNode } from "react";

type Mode = "fit" | "actual" | "zoom";
const MIN_SCALE = 0.05;
const MAX_SCALE = 32;
const STEP = 1.25;

/**
 * A viewport over content `width` × `height` image pixels: Fit (all of it in view), Actual size
 * (one image pixel per screen pixel), zoom with the wheel, buttons or a pinch (about the pointer),
 * pan by dragging (mouse, pen or touch); with the keyboard: arrows pan, + and - zoom, 0 fits, 1 is
 * actual size.
 */
export function ZoomPan({ width, height, label, children }: { width: number; height: number; label: string; children: ReactNode }) {
  const viewport = useRef<HTMLDivElement>(null);
  const [box, setBox] = useState({ w: 0, h: 0 });
  const [mode, setMode] = useState<Mode>("fit");
  const [zoom, setZoom] = useState(1);
  const [pan, setPan] = useState({ x: 0, y: 0 });
  /** The pointers down on the viewport (one drags, two pinch), where each was last. */
  const pointers = useRef(new Map<number, { x: number; y: number }>());

  useEffect(() => {
    const el = viewport.current;
    if (!el) return;
    const measure = () => setBox({ w: el.clientWidth, h: el.clientHeight });
    measure();
    if (typeof ResizeObserver === "undefined") return;
    const observer = new ResizeObserver(measure);
    observer.observe(el);
    return () => observer.disconnect();
  }, []);

  const fitScale = box.w && box.h ? Math.min(box.w / width, box.h / height) : 1;
  const scale = mode === "fit" ? fitScale : mode === "actual" ? 1 / (window.devicePixelRatio || 1) : zoom;
  const origin = { x: (box.w - width * scale) / 2 + pan.x, y: (box.h - height * scale) / 2 + pan.y };

  /** Zooms by `factor` keeping the point (x, y) of the viewport still (its centre by default). */
  const zoomBy = (factor: number, x = box.w / 2, y = box.h / 2) => {
    const next = Math.min(MAX_SCALE, Math.max(MIN_SCALE, scale * factor));
    const px = (x - origin.x) / scale;
    const py = (y - origin.y) / scale;
    // The new origin puts image point (px, py) back under (x, y).
    setPan({ x: x - px * next - (box.w - width * next) / 2, y: y - py * next - (box.h - height * next) / 2 });
    setZoom(next);
    setMode("zoom");
  };
  const zoomByRef = useRef(zoomBy);
  zoomByRef.current = zoomBy;

  // A wheel listener that may preventDefault (React's is passive): the page does not scroll under a zoom.
  useEffect(() => {
    const el = viewport.current;
    if (!el) return;
    const onWheel = (event: WheelEvent) => {
      event.preventDefault();
      const rect = el.getBoundingClientRect();
      zoomByRef.current(event.deltaY < 0 ? STEP : 1 / STEP, event.clientX - rect.left, event.clientY - rect.top);
    };
    el.addEventListener("wheel", onWheel, { passive: false });
    return () => el.removeEventListener("wheel", onWheel);
  }, []);

  const show = (next: Mode) => {
    setMode(next);
    setPan({ x: 0, y: 0 });
  };
  const panBy = (dx: number, dy: number) => {
    if (mode !== "zoom") {
      setZoom(scale);
      setMode("zoom");
    }
    setPan((p) => ({ x: p.x + dx, y: p.y + dy }));
  };

  const onPointerDown = (event: PointerEvent) => {
    pointers.current.set(event.pointerId, { x: event.clientX, y: event.clientY });
    event.currentTarget.setPointerCapture(event.pointerId);
  };
  const onPointerMove = (event: PointerEvent) => {
    const last = pointers.current.get(event.pointerId);
    if (!last) return;
    const now = { x: event.clientX, y: event.clientY };
    const other = [...pointers.current].find(([id]) => id !== event.pointerId)?.[1];
    if (other) {
      // A pinch: zoom by how much the two fingers moved apart, about the point between them.
      const apart = Math.hypot(last.x - other.x, last.y - other.y);
      const rect = event.currentTarget.getBoundingClientRect();
      if (apart > 0) zoomBy(Math.hypot(now.x - other.x, now.y - other.y) / apart, (now.x + other.x) / 2 - rect.left, (now.y + other.y) / 2 - rect.top);
    } else {
      panBy(now.x - last.x, now.y - last.y);
    }
    pointers.current.set(event.pointerId, now);
  };
  const onPointerUp = (event: PointerEvent) => pointers.current.delete(event.pointerId);
  const onKeyDown = (event: KeyboardEvent) => {
    const moves: Record<string, [number, number]> = { ArrowLeft: [40, 0], ArrowRight: [-40, 0], ArrowUp: [0, 40], ArrowDown: [0, -40] };
    const move = moves[event.key];
    if (move) panBy(...move);
    else if (event.key === "+" || event.key === "=") zoomBy(STEP);
    else if (event.key === "-") zoomBy(1 / STEP);
    else if (event.key === "0") show("fit");
    else if (event.key === "1") show("actual");
    else return;
    event.preventDefault();
  };

  return (
    <div className="zoompan">
      <div className="toolbar" role="group" aria-label={`${label}: view`}>
        <button type="button" aria-pressed={mode === "fit"} onClick={() => show("fit")}>Fit</button>
        <button type="button" aria-pressed={mode === "actual"} onClick={() => show("actual")}>Actual size</button>
        <button type="button" onClick={() => zoomBy(1 / STEP)} aria-label="Zoom out">−</button>
        <button type="button" onClick={() => zoomBy(STEP)} aria-label="Zoom in">+</button>
        <output aria-live="off" className="muted">{Math.round(scale * (window.devicePixelRatio || 1) * 100)}%</output>
      </div>
      <div
        ref={viewport}
        className="viewport"
        // As tall as the image at the viewport's width, within the stylesheet's bounds.
        style={box.w ? { height: (box.w * height) / width } : undefined}
        tabIndex={0}
        role="group"
        aria-label={`${label}. Drag or use the arrow keys to pan, + and - to zoom, 0 to fit, 1 for actual size.`}
        onPointerDown={onPointerDown}
        onPointerMove={onPointerMove}
        onPointerUp={onPointerUp}
        onPointerCancel={onPointerUp}
        onKeyDown={onKeyDown}
      >
        <div
          className={`stage${scale * (window.devicePixelRatio || 1) > 2 ? " pixelated" : ""}`}
          style={{ width, height, transform: `translate(${origin.x}px, ${origin.y}px) scale(${scale})` }}
        >
          {children}
        </div>
      </div>
    </div>
  );
}
