// `npm run --silent key:new [test]`: prints a new API key, e.g. for PIXELMILL_ADMIN_KEY.
import { generateApiKey } from "../common/auth/api-key.js";

process.stdout.write(`${generateApiKey(process.argv[2] === "test" ? "test" : "live")}\n`);
