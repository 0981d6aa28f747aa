// Starts the whole service in-process against its own nats-server and a given database, and gives tests a small
// HTTP client that speaks as a user.
import { signUserToken } from "../../src/http/auth";
import { loadConfig, type Config, type DatabaseTarget } from "../../src/shared/config";
import { startService, type RunningService } from "../../src/service";
import { startNatsServer, type NatsServer } from "./nats-server";

export const TEST_SECRET = "test-secret-for-the-end-to-end-suite";

export interface TestService {
  base: string;
  config: Config;
  nats: NatsServer;
  service: RunningService;
  stop(): Promise<void>;
}

/** `nats`: a server already started (a secured one, say), which the service then owns and stops. */
export async function startTestService(database: DatabaseTarget, env: Record<string, string> = {}, given?: NatsServer): Promise<TestService> {
  const nats = given ?? (await startNatsServer());
  const url = database.kind === "postgres" ? database.url : database.kind === "pglite-memory" ? "memory://" : "";
  const config = loadConfig({
    PORT: "0",
    NATS_URL: nats.url,
    AUTH_SECRET: TEST_SECRET,
    SEED_DEMO: "true",
    DATABASE_URL: url,
    DATA_DIR: database.kind === "pglite-disk" ? database.dir : "",
    ...env,
  });
  const service = await startService(config);
  return {
    base: `http://127.0.0.1:${service.port}`,
    config,
    nats,
    service,
    async stop() {
      await service.stop();
      await nats.stop();
    },
  };
}

export interface Response<T = any> {
  status: number;
  body: T;
  headers: Headers;
}

/** A client acting as one user: every call carries that user's bearer token, and the queue token once it has one. */
export class UserClient {
  queueToken: string | undefined;
  private bearer: string | undefined;

  constructor(
    /** The instance it talks to; a test with several instances moves it, as a load balancer would. */
    public base: string,
    readonly userId: number,
    /** An operator's token (`role: "admin"`) instead of a user's. */
    readonly admin = false,
  ) {}

  async call<T = any>(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<Response<T>> {
    this.bearer ??= await signUserToken(this.userId, TEST_SECRET, 86_400, { admin: this.admin });
    const all: Record<string, string> = { authorization: `Bearer ${this.bearer}`, ...headers };
    if (this.queueToken && !("user-token" in headers)) all["user-token"] = this.queueToken;
    if (body !== undefined) all["content-type"] = "application/json";
    const response = await fetch(`${this.base}${path}`, {
      method,
      headers: all,
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.text();
    return { status: response.status, body: text ? JSON.parse(text) : undefined, headers: response.headers };
  }

  /** Takes a place in the global queue, or in a concert's own. */
  async enterQueue(concertId?: number): Promise<Response> {
    const response = await this.call("POST", "/api/v1/queue/tokens", concertId === undefined ? undefined : { concertId });
    if (response.status === 200) this.queueToken = response.body.data.token;
    return response;
  }
}
