// Connecting as configured: with a credentials file (NATS_CREDS), and over TLS (tls://, NATS_CA) with no silent
// fallback to plain TCP. The certificates in test/support/tls are a test CA's, valid for a century:
//   openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout ca-key.pem -out ca.pem -days 36500 -subj "/CN=concert-reservation test CA"
//   openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout server-key.pem -out server.csr -subj "/CN=localhost"
//   openssl x509 -req -in server.csr -CA ca.pem -CAkey ca-key.pem -out server.pem -days 36500 -extfile <(echo subjectAltName=DNS:localhost,IP:127.0.0.1)
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { nkeys } from "nats";
import { loadNatsConfig } from "../../src/shared/config";
import { connectNats } from "../../src/shared/nats-connection";
import { startNatsServer, type NatsServer } from "../support/nats-server";

const TLS = join(import.meta.dir, "../support/tls");

/** Connects as the environment says, sends a ping, and tells how it went: "ok" or the client's error code. */
async function attempt(env: Record<string, string>): Promise<string> {
  try {
    const nc = await connectNats(loadNatsConfig(env), { reconnect: false, timeout: 3000 });
    await nc.flush();
    await nc.close();
    return "ok";
  } catch (error) {
    return String((error as { code?: string }).code ?? error);
  }
}

/** A credentials file as `nsc` writes it. */
function credsFile(dir: string, name: string, seed: string): string {
  const file = join(dir, `${name}.creds`);
  // Outside operator mode nats-server checks the nkey's signature of its nonce and ignores the JWT; in operator mode
  // it would check the JWT too, which is the server's business, not the client's.
  const jwt = "eyJ0eXAiOiJKV1QiLCJhbGciOiJlZDI1NTE5LW5rZXkifQ.e30.unchecked";
  writeFileSync(file, `-----BEGIN NATS USER JWT-----\n${jwt}\n------END NATS USER JWT------\n\n-----BEGIN USER NKEY SEED-----\n${seed}\n------END USER NKEY SEED------\n`);
  return file;
}

describe("NATS_CREDS", () => {
  const user = nkeys.createUser();
  let server: NatsServer;
  beforeAll(async () => {
    server = await startNatsServer({ config: `authorization { users: [ { nkey: ${user.getPublicKey()} } ] }` });
  });
  afterAll(() => server?.stop());

  test("connects with the user's credentials file, and not with another's", async () => {
    const dir = mkdtempSync(join(tmpdir(), "nats-creds-"));
    const seed = (kp: typeof user) => new TextDecoder().decode(kp.getSeed());
    expect(await attempt({ NATS_URL: server.url, NATS_CREDS: credsFile(dir, "right", seed(user)) })).toBe("ok");
    expect(await attempt({ NATS_URL: server.url, NATS_CREDS: credsFile(dir, "wrong", seed(nkeys.createUser())) })).toBe("AUTHORIZATION_VIOLATION");
    expect(await attempt({ NATS_URL: server.url })).toBe("AUTHORIZATION_VIOLATION");
  });
});

describe("tls://", () => {
  let secure: NatsServer;
  let plain: NatsServer;
  beforeAll(async () => {
    secure = await startNatsServer({ config: `tls { cert_file: "${TLS}/server.pem", key_file: "${TLS}/server-key.pem" }` });
    plain = await startNatsServer();
  });
  afterAll(async () => {
    await secure?.stop();
    await plain?.stop();
  });

  test("connects over TLS to a server whose certificate NATS_CA vouches for", async () => {
    expect(await attempt({ NATS_URL: `tls://127.0.0.1:${secure.port}`, NATS_CA: `${TLS}/ca.pem` })).toBe("ok");
    expect(await attempt({ NATS_URL: `tls://localhost:${secure.port}`, NATS_CA: `${TLS}/ca.pem` })).toBe("ok");
  });

  test("refuses a certificate nobody it trusts signed", async () => {
    expect(await attempt({ NATS_URL: `tls://127.0.0.1:${secure.port}` })).toBe("UNABLE_TO_VERIFY_LEAF_SIGNATURE");
  });

  test("refuses a server that offers no TLS instead of talking in the clear", async () => {
    expect(await attempt({ NATS_URL: `tls://127.0.0.1:${plain.port}`, NATS_CA: `${TLS}/ca.pem` })).toBe("SERVER_OPT_NA");
    expect(await attempt({ NATS_URL: `nats://127.0.0.1:${plain.port}`, NATS_CA: `${TLS}/ca.pem` })).toBe("SERVER_OPT_NA");
    expect(await attempt({ NATS_URL: `nats://127.0.0.1:${plain.port}` })).toBe("ok");
  });
});
