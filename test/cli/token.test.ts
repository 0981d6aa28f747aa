// `npm run -s token -- [--admin] <userId>`: the token it prints is one the service accepts, an operator's with --admin.
import { describe, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { bearerVerifier } from "../../src/http/auth";

const SECRET = "token-cli-test-secret";
const run = (...args: string[]) =>
  spawnSync(process.execPath, ["src/cli/token.ts", ...args], { env: { ...process.env, AUTH_SECRET: SECRET }, encoding: "utf8" });

describe("the token command", () => {
  const verify = bearerVerifier(SECRET);

  test("mints a user's token, and an operator's with --admin", async () => {
    expect(await verify(`Bearer ${run("7").stdout.trim()}`)).toMatchObject({ userId: 7, admin: false });
    expect(await verify(`Bearer ${run("--admin", "8").stdout.trim()}`)).toMatchObject({ userId: 8, admin: true });
    expect(await verify(`Bearer ${run("9", "--admin", "--ttl", "60").stdout.trim()}`)).toMatchObject({ userId: 9, admin: true });
  });

  test("refuses anything but one positive user id", () => {
    for (const args of [[], ["abc"], ["0"], ["1", "2"], ["--ttl", "0", "1"], ["--role", "admin", "1"]]) {
      const result = run(...args);
      expect({ args, status: result.status, stdout: result.stdout }).toEqual({ args, status: 2, stdout: "" });
      expect(result.stderr).toContain("usage:");
    }
  });
});
