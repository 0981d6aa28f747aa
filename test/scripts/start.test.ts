// `npm start` (scripts/start.ts) where no NATS server listens: it starts nats-server with deploy/nats-server.conf and
// development passwords it prints and keeps, and the service connects as `service`; started again, it finds the
// passwords for the server still running.
import { afterAll, describe, expect, test } from "bun:test";
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect } from "nats";
import { freePort, portOpen, waitFor } from "../support/nats-server";

async function start(env: Record<string, string>) {
  const port = await freePort();
  const child = spawn(process.execPath, ["scripts/start.ts"], {
    env: { ...process.env, DATABASE_URL: "memory://", LOG_LEVEL: "warn", PORT: String(port), AUTH_SECRET: "", ...env },
  });
  let err = "";
  child.stderr.on("data", (chunk) => (err += chunk));
  const exited = new Promise((resolve) => child.once("exit", resolve));
  const ready = async () => (await fetch(`http://127.0.0.1:${port}/ready`).catch(() => undefined))?.status === 200;
  await waitFor(ready, "the service to be ready", 60_000);
  return {
    err: () => err,
    async stop() {
      child.kill("SIGTERM");
      await exited;
    },
  };
}

describe("npm start without a NATS server", () => {
  const dir = mkdtempSync(join(tmpdir(), "npm-start-"));
  let natsPid: number | undefined;
  afterAll(() => {
    if (natsPid) process.kill(natsPid, "SIGKILL");
  });

  test("starts the secured nats-server, connects as service, and finds it again", async () => {
    const natsPort = await freePort();
    const env = { NATS_URL: `nats://127.0.0.1:${natsPort}`, NATS_DATA_DIR: dir };
    const first = await start(env);
    natsPid = Number(/pid (\d+)/.exec(first.err())?.[1]);
    const service = readFileSync(join(dir, "service.password"), "utf8").trim();
    const monitor = readFileSync(join(dir, "monitor.password"), "utf8").trim();
    expect(first.err()).toContain(`NATS users: service / ${service}, monitor / ${monitor}`);
    // On the development secret, links that sign in a demo fan and an operator, printed once it listens.
    await waitFor(async () => first.err().includes("operators' console"), "the pages' links", 10_000);
    expect(first.err()).toMatch(/fans' page \(user 1\): http:\/\/127\.0\.0\.1:\d+\/#token=[\w-]+\.[\w-]+\.[\w-]+/);
    expect(first.err()).toMatch(/operators' console: http:\/\/127\.0\.0\.1:\d+\/admin#token=[\w-]+\.[\w-]+\.[\w-]+/);
    expect(statSync(join(dir, "service.password")).mode & 0o077).toBe(0);
    expect(service).not.toBe(monitor);
    await first.stop();

    const anonymous = await connect({ port: natsPort, reconnect: false }).then(
      (nc) => nc.close().then(() => "connected"),
      (error) => (error as { code?: string }).code,
    );
    expect(anonymous).toBe("AUTHORIZATION_VIOLATION");

    const again = await start(env);
    expect(again.err()).toContain(`using the nats-server on 127.0.0.1:${natsPort} as user service`);
    expect(again.err()).not.toContain("started nats-server");
    await again.stop();
    expect(await portOpen(natsPort)).toBe(true);
  }, 150_000);
});
