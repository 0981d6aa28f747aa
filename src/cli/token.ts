// `npm run -s token -- [--admin] <userId> [--ttl seconds]`: prints a bearer token for that user (an operator's with
// --admin), for Swagger's Authorize and scripts.
import { parseArgs } from "node:util";
import { signUserToken } from "../http/auth";
import { ConfigError, loadConfig } from "../shared/config";

const USAGE = "usage: npm run -s token -- [--admin] <userId> [--ttl seconds]   (userId: a positive integer)";

function parsed() {
  try {
    return parseArgs({ allowPositionals: true, options: { admin: { type: "boolean", default: false }, ttl: { type: "string", default: "86400" } } });
  } catch {
    return undefined;
  }
}

const args = parsed();
const [userArg] = args?.positionals ?? [];
const userId = /^[1-9][0-9]{0,15}$/.test(userArg ?? "") ? Number(userArg) : NaN;
const ttl = Number(args?.values.ttl);
if (!args || args.positionals.length !== 1 || !Number.isSafeInteger(userId) || !Number.isSafeInteger(ttl) || ttl < 1) {
  console.error(USAGE);
  process.exit(2);
}
try {
  console.log(await signUserToken(userId, loadConfig().authSecret, ttl, { admin: args.values.admin }));
} catch (error) {
  if (!(error instanceof ConfigError)) throw error;
  console.error(`configuration error: ${error.message}`);
  process.exit(2);
}
