// `npm start`: a NATS server to talk to (scripts/ensure-nats.ts), then the service. Both run in this one process, so
// the credentials the first step chose reach the service's configuration. On the development secret it also prints
// links to the pages that sign in a demo fan and an operator (tokens for that secret only, which nobody uses in
// production: NODE_ENV=production refuses to start without AUTH_SECRET).
import { signUserToken } from "../src/http/auth";
import { loadConfig } from "../src/shared/config";
import { ensureNats } from "./ensure-nats";

Object.assign(process.env, await ensureNats(process.env));
await import("../src/main");

const config = loadConfig();
if (config.authSecretIsDevelopment) {
  const base = `http://127.0.0.1:${config.port}`;
  const fan = await signUserToken(1, config.authSecret);
  const operator = await signUserToken(1, config.authSecret, 86_400, { admin: true });
  console.error(`fans' page (user 1): ${base}/#token=${fan}\noperators' console: ${base}/admin#token=${operator}`);
}
