// `npm start`: a NATS server to talk to (scripts/ensure-nats.ts), then the service. Both run in this one process, so
// the credentials the first step chose reach the service's configuration.
import { ensureNats } from "./ensure-nats";

Object.assign(process.env, await ensureNats(process.env));
await import("../src/main");
