// The tiny diffusion exports live with the built-in models now (the dev stack registers one as its demo).
export * from "../../models/tiny-diffusion/tiny-diffusion.js";
