// A three-node NATS cluster with JetStream on free ports, from deploy/nats-cluster/node.conf, for tests that take a
// node away and bring it back.
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { freePort, portOpen, waitFor } from "./nats-server";

const NODE_CONFIG = resolve(import.meta.dir, "../../deploy/nats-cluster/node.conf");

export interface ClusterNode {
  name: string;
  url: string;
  /** The node's HTTP monitoring endpoint (/connz, /jsz). */
  monitor: string;
  stop(): Promise<void>;
  start(): Promise<void>;
}

export interface NatsCluster {
  nodes: ClusterNode[];
  /** Every node's URL, comma-separated, as NATS_URL takes them. */
  urls: string;
  /** Where the nodes keep their stores and logs. */
  dir: string;
  stop(): Promise<void>;
}

export async function startNatsCluster(size = 3): Promise<NatsCluster> {
  const ports = await Promise.all(
    Array.from({ length: size }, async () => ({ client: await freePort(), route: await freePort(), monitor: await freePort() })),
  );
  const dir = mkdtempSync(join(tmpdir(), "nats-cluster-"));
  const nodes = ports.map(({ client, route, monitor }, i): ClusterNode => {
    const name = `n${i + 1}`;
    const routes = ports.filter((_, j) => j !== i).map((p) => `nats-route://127.0.0.1:${p.route}`).join(",");
    const args = ["-c", NODE_CONFIG, "--server_name", name, "-a", "127.0.0.1", "-p", String(client), "-m", String(monitor), "-sd", join(dir, name)];
    args.push("--cluster", `nats://127.0.0.1:${route}`, "--routes", routes, "-l", join(dir, `${name}.log`));
    let child: ChildProcess | undefined;
    return {
      name,
      url: `nats://127.0.0.1:${client}`,
      monitor: `http://127.0.0.1:${monitor}`,
      async start() {
        child = spawn("nats-server", args, { stdio: "ignore" });
        await waitFor(() => portOpen(client), `${name} on ${client}`);
      },
      async stop() {
        if (!child || child.exitCode !== null || child.signalCode !== null) return;
        const exited = new Promise((done) => child!.once("exit", done));
        child.kill("SIGKILL");
        await exited;
      },
    };
  });
  await Promise.all(nodes.map((node) => node.start()));
  return { nodes, urls: nodes.map((n) => n.url).join(","), dir, stop: async () => void (await Promise.all(nodes.map((n) => n.stop()))) };
}
