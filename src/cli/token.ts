// `bun run token <userId> [--ttl seconds]`: prints a bearer token for that user, for Swagger's Authorize and scripts.
import { signUserToken } from "../http/auth";
import { ConfigError, loadConfig } from "../shared/config";

const [userArg, flag, ttlArg] = process.argv.slice(2);
const userId = /^[1-9][0-9]{0,15}$/.test(userArg ?? "") ? Number(userArg) : NaN;
const ttl = flag === "--ttl" ? Number(ttlArg) : 86_400;
if (!Number.isSafeInteger(userId) || !Number.isSafeInteger(ttl) || ttl < 1) {
  console.error("usage: bun run token <userId> [--ttl seconds]   (userId: a positive integer)");
  process.exit(2);
}
try {
  console.log(await signUserToken(userId, loadConfig().authSecret, ttl));
} catch (error) {
  if (!(error instanceof ConfigError)) throw error;
  console.error(`configuration error: ${error.message}`);
  process.exit(2);
}
