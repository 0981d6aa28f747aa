// The one place the service reads its environment. Every setting of API.md's configuration table lives here,
// validated at start so a typo fails loudly instead of running with a silent default.
import { accessSync, constants } from "node:fs";

export type DatabaseTarget =
  | { kind: "pglite-disk"; dir: string }
  | { kind: "pglite-memory" }
  | { kind: "postgres"; url: string };

/** How to reach NATS: the servers, who we are (unset: no credentials), and TLS. */
export interface NatsConfig {
  servers: string[];
  auth?: { user: string; password: string } | { credsFile: string };
  /** Set when TLS is required: a tls:// server in NATS_URL, or NATS_CA naming the CA that signed the servers' certificates. */
  tls?: { caFile?: string };
}

/** OTLP export of traces (API.md v1.2 "Traces"), from the standard OTEL_* variables. */
export interface TracingConfig {
  /** OTEL_EXPORTER_OTLP_TRACES_ENDPOINT as given, or OTEL_EXPORTER_OTLP_ENDPOINT with /v1/traces. */
  url: string;
  protocol: "http/protobuf" | "http/json";
  serviceName: string;
  /** OTEL_BSP_SCHEDULE_DELAY: how long finished spans wait to leave in one batch. */
  batchDelayMs: number;
  /**
   * OTEL_TRACES_SAMPLER and its argument: which new traces are recorded (a share of them, by trace id), and whether
   * a caller's sampling decision in its `traceparent` is followed (the `parentbased_` samplers, the default).
   */
  sampler: { parentBased: boolean; ratio: number };
}

export interface Config {
  port: number;
  database: DatabaseTarget;
  nats: NatsConfig;
  authSecret: string;
  authSecretIsDevelopment: boolean;
  seatHoldTtlMs: number;
  queueMaxActive: number;
  queueActiveTtlMs: number;
  maxSeatsPerUser: number;
  seedDemo: boolean;
  /** How long a NATS request may wait for an actor before the HTTP side answers 503. */
  requestTimeoutMs: number;
  /** An event actor with no live holds stops after this long without commands. */
  actorIdleMs: number;
  /**
   * Groups of changes an actor commits at once: 1, or 2 to pipeline them (the next starts as the previous lands).
   * The benchmark measured pipelining faster on PGlite's checkout and slower on the server's, so each gets its own.
   */
  actorCommitsInFlight: number;
  /** Requests per second one user may make to enter the queue, and to occupy seats (0: unlimited). */
  rateLimitQueue: number;
  rateLimitOccupy: number;
  /** Requests this instance's HTTP side may have in flight to the actors; past it, 503 at once (the queue's crowd: half). */
  inFlightLimit: number;
  /** This instance's name among those sharing one database; unset, the host name and port. */
  instanceId: string | undefined;
  /** How long an instance's ownership of an event (or the queue) lasts without renewal: the failover time after a crash. */
  ownershipLeaseMs: number;
  /** Refunds are allowed until this long before the event starts. */
  refundCutoffMs: number;
  /** Unset: no tracing, and no cost for it. */
  tracing: TracingConfig | undefined;
  /** Copies of RSV_EVENTS the service asks JetStream to keep: 3 on a three-node cluster, so a node lost loses no event. */
  eventStreamReplicas: number;
}

export const DEVELOPMENT_SECRET = "development-secret-do-not-use-in-production";

export class ConfigError extends Error {}

type Env = Record<string, string | undefined>;

function integer(env: Env, name: string, fallback: number, min: number, max = Number.MAX_SAFE_INTEGER): number {
  const raw = env[name];
  if (raw === undefined || raw === "") return fallback;
  if (!/^\d+$/.test(raw.trim())) throw new ConfigError(`${name} must be a whole number, got "${raw}"`);
  const value = Number(raw.trim());
  if (value < min || value > max) throw new ConfigError(`${name} must be between ${min} and ${max}, got ${value}`);
  return value;
}

function boolean(env: Env, name: string, fallback: boolean): boolean {
  const raw = env[name]?.trim().toLowerCase();
  if (raw === undefined || raw === "") return fallback;
  if (["true", "1", "yes"].includes(raw)) return true;
  if (["false", "0", "no"].includes(raw)) return false;
  throw new ConfigError(`${name} must be true or false, got "${env[name]}"`);
}

function database(env: Env): DatabaseTarget {
  const url = env.DATABASE_URL?.trim();
  if (!url) return { kind: "pglite-disk", dir: env.DATA_DIR?.trim() || "./data" };
  if (url === "memory://") return { kind: "pglite-memory" };
  if (/^postgres(ql)?:\/\//.test(url)) return { kind: "postgres", url };
  throw new ConfigError(`DATABASE_URL must be postgres://… or memory://, got "${url}"`);
}

function natsServers(env: Env): string[] {
  const servers = (env.NATS_URL ?? "nats://127.0.0.1:4222").split(",").map((s) => s.trim()).filter(Boolean);
  if (servers.length === 0) throw new ConfigError("NATS_URL must name at least one server");
  const other = servers.find((s) => /^[a-z][a-z0-9+.-]*:\/\//i.test(s) && !/^(nats|tls):\/\//i.test(s));
  if (other) throw new ConfigError(`NATS_URL servers must be nats://… or tls://…, got "${other}"`);
  return servers;
}

/** A file named by a setting must be readable now, not at the first reconnect. */
function readableFile(env: Env, name: string): string | undefined {
  const path = env[name]?.trim();
  if (!path) return undefined;
  try {
    accessSync(path, constants.R_OK);
  } catch {
    throw new ConfigError(`${name} must name a readable file, got "${path}"`);
  }
  return path;
}

function natsAuth(env: Env): NatsConfig["auth"] {
  const user = env.NATS_USER?.trim();
  const password = env.NATS_PASSWORD;
  const credsFile = readableFile(env, "NATS_CREDS");
  if (credsFile && (user || password)) throw new ConfigError("NATS_CREDS and NATS_USER/NATS_PASSWORD cannot both be set");
  if (credsFile) return { credsFile };
  if (user && !password) throw new ConfigError("NATS_PASSWORD must be set with NATS_USER");
  if (password && !user) throw new ConfigError("NATS_USER must be set with NATS_PASSWORD");
  return user && password ? { user, password } : undefined;
}

/** A tls:// server makes TLS required on every connection, so mixing it with plain ones would only hide a mistake. */
function natsTls(env: Env, servers: string[]): NatsConfig["tls"] {
  const secure = servers.filter((s) => /^tls:\/\//i.test(s)).length;
  if (secure > 0 && secure < servers.length) throw new ConfigError("NATS_URL must not mix tls:// and plain servers");
  const caFile = readableFile(env, "NATS_CA");
  if (secure === 0 && !caFile) return undefined;
  return caFile ? { caFile } : {};
}

/** The NATS settings alone, for tools such as the monitor that need nothing else of the service's configuration. */
export function loadNatsConfig(env: Env = process.env): NatsConfig {
  const servers = natsServers(env);
  const auth = natsAuth(env);
  const tls = natsTls(env, servers);
  return { servers, ...(auth && { auth }), ...(tls && { tls }) };
}

function authSecret(env: Env): { secret: string; development: boolean } {
  const secret = env.AUTH_SECRET;
  if (secret) return { secret, development: false };
  if (env.NODE_ENV === "production") throw new ConfigError("AUTH_SECRET is required when NODE_ENV=production");
  return { secret: DEVELOPMENT_SECRET, development: true };
}

function instanceId(env: Env): string | undefined {
  const raw = env.INSTANCE_ID?.trim();
  if (!raw) return undefined;
  if (!/^[A-Za-z0-9_.:-]{1,64}$/.test(raw)) throw new ConfigError(`INSTANCE_ID must be 1-64 letters, digits or _.:-, got "${raw}"`);
  return raw;
}

const OTLP_PROTOCOLS = ["http/protobuf", "http/json"] as const;

function sampler(env: Env): TracingConfig["sampler"] {
  const name = (env.OTEL_TRACES_SAMPLER ?? "parentbased_always_on").trim();
  const parentBased = name.startsWith("parentbased_");
  const kind = name.replace(/^parentbased_/, "");
  if (kind === "always_on") return { parentBased, ratio: 1 };
  if (kind === "always_off") return { parentBased, ratio: 0 };
  if (kind !== "traceidratio") {
    throw new ConfigError(`OTEL_TRACES_SAMPLER must be always_on, always_off, traceidratio or their parentbased_ forms, got "${name}"`);
  }
  const raw = env.OTEL_TRACES_SAMPLER_ARG?.trim() || "1";
  const ratio = Number(raw);
  if (!/^\d*\.?\d+$/.test(raw) || ratio > 1) throw new ConfigError(`OTEL_TRACES_SAMPLER_ARG must be a number from 0 to 1, got "${raw}"`);
  return { parentBased, ratio };
}

function tracing(env: Env): TracingConfig | undefined {
  if (boolean(env, "OTEL_SDK_DISABLED", false) || env.OTEL_TRACES_EXPORTER?.trim() === "none") return undefined;
  const signal = env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT?.trim();
  const base = env.OTEL_EXPORTER_OTLP_ENDPOINT?.trim();
  if (!signal && !base) return undefined;
  const url = signal || `${base!.replace(/\/+$/, "")}/v1/traces`;
  if (!/^https?:\/\//.test(url)) throw new ConfigError(`the OTLP endpoint must be http://… or https://…, got "${url}"`);
  const protocol = (env.OTEL_EXPORTER_OTLP_TRACES_PROTOCOL ?? env.OTEL_EXPORTER_OTLP_PROTOCOL ?? "http/protobuf").trim();
  if (!OTLP_PROTOCOLS.includes(protocol as TracingConfig["protocol"])) {
    throw new ConfigError(`OTEL_EXPORTER_OTLP_PROTOCOL must be http/protobuf or http/json, got "${protocol}"`);
  }
  return {
    url,
    protocol: protocol as TracingConfig["protocol"],
    serviceName: env.OTEL_SERVICE_NAME?.trim() || "concert-reservation",
    batchDelayMs: integer(env, "OTEL_BSP_SCHEDULE_DELAY", 5000, 0),
    sampler: sampler(env),
  };
}

export function loadConfig(env: Env = process.env): Config {
  const auth = authSecret(env);
  const target = database(env);
  return {
    port: integer(env, "PORT", 8080, 0, 65535),
    database: target,
    nats: loadNatsConfig(env),
    authSecret: auth.secret,
    authSecretIsDevelopment: auth.development,
    seatHoldTtlMs: integer(env, "SEAT_HOLD_TTL_SECONDS", 300, 1) * 1000,
    queueMaxActive: integer(env, "QUEUE_MAX_ACTIVE", 100, 1),
    queueActiveTtlMs: integer(env, "QUEUE_ACTIVE_TTL_SECONDS", 600, 1) * 1000,
    maxSeatsPerUser: integer(env, "MAX_SEATS_PER_USER", 4, 1),
    seedDemo: boolean(env, "SEED_DEMO", true),
    requestTimeoutMs: integer(env, "REQUEST_TIMEOUT_MS", 2000, 50),
    actorIdleMs: integer(env, "ACTOR_IDLE_SECONDS", 60, 1) * 1000,
    actorCommitsInFlight: integer(env, "ACTOR_COMMITS_IN_FLIGHT", target.kind === "postgres" ? 1 : 2, 1, 2),
    rateLimitQueue: integer(env, "RATE_LIMIT_QUEUE_PER_SECOND", 5, 0),
    rateLimitOccupy: integer(env, "RATE_LIMIT_OCCUPY_PER_SECOND", 10, 0),
    inFlightLimit: integer(env, "IN_FLIGHT_LIMIT", 2000, 2),
    instanceId: instanceId(env),
    ownershipLeaseMs: integer(env, "OWNERSHIP_LEASE_SECONDS", 4, 1, 600) * 1000,
    refundCutoffMs: integer(env, "REFUND_CUTOFF_HOURS", 24, 0, 24 * 365) * 3_600_000,
    tracing: tracing(env),
    eventStreamReplicas: integer(env, "EVENT_STREAM_REPLICAS", 1, 1, 5),
  };
}
