// The export's ImageModel spec and upload live with the built-in models now (the dev stack uses them).
export * from "../../models/tiny-diffusion/export-spec.js";
