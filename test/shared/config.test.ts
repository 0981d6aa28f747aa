import { describe, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { ConfigError, DEVELOPMENT_SECRET, loadConfig } from "../../src/shared/config";

describe("configuration", () => {
  test("defaults are API.md's", () => {
    const config = loadConfig({});
    expect(config).toMatchObject({
      port: 8080,
      database: { kind: "pglite-disk", dir: "./data" },
      natsServers: ["nats://127.0.0.1:4222"],
      authSecret: DEVELOPMENT_SECRET,
      seatHoldTtlMs: 300_000,
      queueMaxActive: 100,
      queueActiveTtlMs: 600_000,
      maxSeatsPerUser: 4,
      seedDemo: true,
    });
    expect(loadConfig({ DATABASE_URL: "memory://" }).database).toEqual({ kind: "pglite-memory" });
    expect(loadConfig({ NATS_URL: "nats://a:4222, nats://b:4222" }).natsServers).toEqual(["nats://a:4222", "nats://b:4222"]);
  });

  test("commits are pipelined on PGlite and one at a time on a PostgreSQL server, unless set", () => {
    expect(loadConfig({}).actorCommitsInFlight).toBe(2);
    expect(loadConfig({ DATABASE_URL: "memory://" }).actorCommitsInFlight).toBe(2);
    expect(loadConfig({ DATABASE_URL: "postgres://db/x" }).actorCommitsInFlight).toBe(1);
    expect(loadConfig({ DATABASE_URL: "postgres://db/x", ACTOR_COMMITS_IN_FLIGHT: "2" }).actorCommitsInFlight).toBe(2);
    expect(() => loadConfig({ ACTOR_COMMITS_IN_FLIGHT: "3" })).toThrow("ACTOR_COMMITS_IN_FLIGHT must be between 1 and 2, got 3");
  });

  test("bad values stop the start with a clear message", () => {
    const message = (env: Record<string, string>) => {
      try {
        loadConfig(env);
        return "accepted";
      } catch (error) {
        return error instanceof ConfigError ? error.message : String(error);
      }
    };
    expect(message({ QUEUE_MAX_ACTIVE: "abc" })).toBe('QUEUE_MAX_ACTIVE must be a whole number, got "abc"');
    expect(message({ QUEUE_MAX_ACTIVE: "0" })).toBe("QUEUE_MAX_ACTIVE must be between 1 and 9007199254740991, got 0");
    expect(message({ PORT: "70000" })).toBe("PORT must be between 0 and 65535, got 70000");
    expect(message({ SEED_DEMO: "maybe" })).toBe('SEED_DEMO must be true or false, got "maybe"');
    expect(message({ DATABASE_URL: "mysql://x" })).toBe('DATABASE_URL must be postgres://… or memory://, got "mysql://x"');
    expect(message({ NODE_ENV: "production" })).toBe("AUTH_SECRET is required when NODE_ENV=production");
  });

  test("the service refuses to start on a bad value, with one line and exit code 2", () => {
    const run = spawnSync(process.execPath, ["src/main.ts"], { env: { ...process.env, QUEUE_MAX_ACTIVE: "abc" }, encoding: "utf8" });
    expect(run.status).toBe(2);
    expect(run.stderr.trim()).toBe('configuration error: QUEUE_MAX_ACTIVE must be a whole number, got "abc"');
  });
});
