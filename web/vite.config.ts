import { fileURLToPath } from "node:url";
import react from "@vitejs/plugin-react";
import { defineConfig } from "vite";

// The web console (docs/console.md): built into web/dist, which the API serves at `/` (same
// origin, so no CORS and a CSP of 'self'). Every asset is bundled: nothing loads from elsewhere.
export default defineConfig({
  root: fileURLToPath(new URL(".", import.meta.url)),
  base: "/",
  plugins: [react()],
  build: {
    outDir: "dist",
    emptyOutDir: true,
    assetsDir: "assets",
    // No inlined data: fonts or scripts; images stay files (the CSP allows data: for img-src only).
    assetsInlineLimit: 0,
  },
  server: {
    // `npx vite --config web/vite.config.ts` against `npm run dev`'s API.
    proxy: { "/v1": { target: "http://localhost:8080", ws: true } },
  },
});
