import { describe, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { ConfigError, DEVELOPMENT_SECRET, loadConfig, loadNatsConfig } from "../../src/shared/config";

const message = (env: Record<string, string>) => {
  try {
    loadConfig(env);
    return "accepted";
  } catch (error) {
    return error instanceof ConfigError ? error.message : String(error);
  }
};

const READABLE = join(import.meta.dir, "../support/tls/ca.pem");

describe("configuration", () => {
  test("defaults are API.md's", () => {
    const config = loadConfig({});
    expect(config).toMatchObject({
      port: 8080,
      database: { kind: "pglite-disk", dir: "./data" },
      nats: { servers: ["nats://127.0.0.1:4222"] },
      authSecret: DEVELOPMENT_SECRET,
      seatHoldTtlMs: 300_000,
      queueMaxActive: 100,
      queueActiveTtlMs: 600_000,
      maxSeatsPerUser: 4,
      seedDemo: true,
    });
    expect(loadConfig({ DATABASE_URL: "memory://" }).database).toEqual({ kind: "pglite-memory" });
    expect(loadConfig({}).eventStreamReplicas).toBe(1);
    expect(loadConfig({ EVENT_STREAM_REPLICAS: "3" }).eventStreamReplicas).toBe(3);
    expect(loadConfig({ NATS_URL: "nats://a:4222, nats://b:4222" }).nats.servers).toEqual(["nats://a:4222", "nats://b:4222"]);
  });

  test("commits are pipelined on PGlite and one at a time on a PostgreSQL server, unless set", () => {
    expect(loadConfig({}).actorCommitsInFlight).toBe(2);
    expect(loadConfig({ DATABASE_URL: "memory://" }).actorCommitsInFlight).toBe(2);
    expect(loadConfig({ DATABASE_URL: "postgres://db/x" }).actorCommitsInFlight).toBe(1);
    expect(loadConfig({ DATABASE_URL: "postgres://db/x", ACTOR_COMMITS_IN_FLIGHT: "2" }).actorCommitsInFlight).toBe(2);
    expect(() => loadConfig({ ACTOR_COMMITS_IN_FLIGHT: "3" })).toThrow("ACTOR_COMMITS_IN_FLIGHT must be between 1 and 2, got 3");
  });

  test("bad values stop the start with a clear message", () => {
    expect(message({ QUEUE_MAX_ACTIVE: "abc" })).toBe('QUEUE_MAX_ACTIVE must be a whole number, got "abc"');
    expect(message({ QUEUE_MAX_ACTIVE: "0" })).toBe("QUEUE_MAX_ACTIVE must be between 1 and 9007199254740991, got 0");
    expect(message({ PORT: "70000" })).toBe("PORT must be between 0 and 65535, got 70000");
    expect(message({ SEED_DEMO: "maybe" })).toBe('SEED_DEMO must be true or false, got "maybe"');
    expect(message({ DATABASE_URL: "mysql://x" })).toBe('DATABASE_URL must be postgres://… or memory://, got "mysql://x"');
    expect(message({ NODE_ENV: "production" })).toBe("AUTH_SECRET is required when NODE_ENV=production");
  });

  test("NATS: no credentials and plain TCP unless configured", () => {
    expect(loadConfig({}).nats).toEqual({ servers: ["nats://127.0.0.1:4222"] });
    expect(loadNatsConfig({ NATS_URL: "nats.internal:4222" })).toEqual({ servers: ["nats.internal:4222"] });
  });

  test("NATS: a user and password, or a credentials file", () => {
    expect(loadNatsConfig({ NATS_USER: " service ", NATS_PASSWORD: "s3cret " }).auth).toEqual({ user: "service", password: "s3cret " });
    expect(loadNatsConfig({ NATS_CREDS: READABLE }).auth).toEqual({ credsFile: READABLE });
  });

  test("NATS: a tls:// server or NATS_CA makes TLS required", () => {
    expect(loadNatsConfig({ NATS_URL: "tls://a:4222,tls://b:4222" })).toEqual({ servers: ["tls://a:4222", "tls://b:4222"], tls: {} });
    expect(loadNatsConfig({ NATS_URL: "tls://a:4222", NATS_CA: READABLE }).tls).toEqual({ caFile: READABLE });
    expect(loadNatsConfig({ NATS_URL: "nats://a:4222", NATS_CA: READABLE }).tls).toEqual({ caFile: READABLE });
  });

  test("NATS: inconsistent or unusable settings are refused", () => {
    expect(message({ NATS_USER: "service" })).toBe("NATS_PASSWORD must be set with NATS_USER");
    expect(message({ NATS_PASSWORD: "x" })).toBe("NATS_USER must be set with NATS_PASSWORD");
    expect(message({ NATS_CREDS: READABLE, NATS_USER: "service", NATS_PASSWORD: "x" })).toBe("NATS_CREDS and NATS_USER/NATS_PASSWORD cannot both be set");
    expect(message({ NATS_CREDS: "/nonexistent/user.creds" })).toBe('NATS_CREDS must name a readable file, got "/nonexistent/user.creds"');
    expect(message({ NATS_CA: "/nonexistent/ca.pem" })).toBe('NATS_CA must name a readable file, got "/nonexistent/ca.pem"');
    expect(message({ NATS_URL: "tls://a:4222,nats://b:4222" })).toBe("NATS_URL must not mix tls:// and plain servers");
    expect(message({ NATS_URL: "ws://a:443" })).toBe('NATS_URL servers must be nats://… or tls://…, got "ws://a:443"');
  });

  test("traces: off unless an OTLP endpoint is set; the standard OTEL_* variables say where and how", () => {
    expect(loadConfig({}).tracing).toBeUndefined();
    expect(loadConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: "http://collector:4318/" }).tracing).toEqual({
      url: "http://collector:4318/v1/traces",
      protocol: "http/protobuf",
      serviceName: "concert-reservation",
      batchDelayMs: 5000,
      sampler: { parentBased: true, ratio: 1 },
    });
    const signal = loadConfig({
      OTEL_EXPORTER_OTLP_ENDPOINT: "http://ignored:4318",
      OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: "https://collector/traces",
      OTEL_EXPORTER_OTLP_PROTOCOL: "http/json",
      OTEL_SERVICE_NAME: "seats-a",
      OTEL_BSP_SCHEDULE_DELAY: "100",
    }).tracing;
    expect(signal).toEqual({
      url: "https://collector/traces",
      protocol: "http/json",
      serviceName: "seats-a",
      batchDelayMs: 100,
      sampler: { parentBased: true, ratio: 1 },
    });
    const sampled = (env: Record<string, string>) => loadConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: "http://c:4318", ...env }).tracing?.sampler;
    expect(sampled({ OTEL_TRACES_SAMPLER: "parentbased_traceidratio", OTEL_TRACES_SAMPLER_ARG: "0.01" })).toEqual({ parentBased: true, ratio: 0.01 });
    expect(sampled({ OTEL_TRACES_SAMPLER: "traceidratio", OTEL_TRACES_SAMPLER_ARG: "0.5" })).toEqual({ parentBased: false, ratio: 0.5 });
    expect(sampled({ OTEL_TRACES_SAMPLER: "always_off" })).toEqual({ parentBased: false, ratio: 0 });
    expect(message({ OTEL_EXPORTER_OTLP_ENDPOINT: "http://c:4318", OTEL_TRACES_SAMPLER: "jaeger_remote" })).toBe(
      'OTEL_TRACES_SAMPLER must be always_on, always_off, traceidratio or their parentbased_ forms, got "jaeger_remote"',
    );
    expect(message({ OTEL_EXPORTER_OTLP_ENDPOINT: "http://c:4318", OTEL_TRACES_SAMPLER: "traceidratio", OTEL_TRACES_SAMPLER_ARG: "2" })).toBe(
      'OTEL_TRACES_SAMPLER_ARG must be a number from 0 to 1, got "2"',
    );
    expect(loadConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: "http://c:4318", OTEL_SDK_DISABLED: "true" }).tracing).toBeUndefined();
    expect(loadConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: "http://c:4318", OTEL_TRACES_EXPORTER: "none" }).tracing).toBeUndefined();
    expect(message({ OTEL_EXPORTER_OTLP_ENDPOINT: "http://c:4317", OTEL_EXPORTER_OTLP_PROTOCOL: "grpc" })).toBe(
      'OTEL_EXPORTER_OTLP_PROTOCOL must be http/protobuf or http/json, got "grpc"',
    );
    expect(message({ OTEL_EXPORTER_OTLP_ENDPOINT: "collector:4318" })).toBe('the OTLP endpoint must be http://… or https://…, got "collector:4318/v1/traces"');
  });

  test("the monitor's NATS settings need nothing else of the service's", () => {
    expect(message({ NODE_ENV: "production" })).toBe("AUTH_SECRET is required when NODE_ENV=production");
    expect(loadNatsConfig({ NODE_ENV: "production", QUEUE_MAX_ACTIVE: "abc" }).servers).toEqual(["nats://127.0.0.1:4222"]);
  });

  test("the service refuses to start on a bad value, with one line and exit code 2", () => {
    const run = spawnSync(process.execPath, ["src/main.ts"], { env: { ...process.env, QUEUE_MAX_ACTIVE: "abc" }, encoding: "utf8" });
    expect(run.status).toBe(2);
    expect(run.stderr.trim()).toBe('configuration error: QUEUE_MAX_ACTIVE must be a whole number, got "abc"');
  });
});
