// Prometheus metrics (prom-client): one registry for the process, served at GET /metrics. Gauges that describe the
// actors are read from them when scraped, so nothing on the hot path keeps a second copy of their state.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";

export const registry = new Registry();
collectDefaultMetrics({ register: registry });

const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5];

/**
 * HTTP requests by route, method and status, and their latency by route and method. Counted in plain maps on the
 * request path and read out when scraped: prom-client's labelled metrics hash their labels on every call, which was
 * a fifth of what a status poll cost on top of a bare route.
 */
class HttpMetrics {
  private readonly requests = new Map<string, { labels: Record<string, string | number>; value: number }>();
  private readonly latency = new Map<string, { route: string; method: string; buckets: number[]; sum: number; count: number }>();

  record(route: string, method: string, status: number, seconds: number): void {
    const requestKey = `${method} ${status} ${route}`;
    const counted = this.requests.get(requestKey);
    if (counted) counted.value++;
    else this.requests.set(requestKey, { labels: { route, method, status }, value: 1 });
    const latencyKey = `${method} ${route}`;
    let timed = this.latency.get(latencyKey);
    if (!timed) this.latency.set(latencyKey, (timed = { route, method, buckets: LATENCY_BUCKETS.map(() => 0), sum: 0, count: 0 }));
    const index = LATENCY_BUCKETS.findIndex((bound) => seconds <= bound);
    if (index >= 0) timed.buckets[index]!++;
    timed.sum += seconds;
    timed.count++;
  }

  register(registry: Registry): void {
    registry.registerMetric(this.metric("http_requests_total", "HTTP requests by route, method and status", "counter", () => [...this.requests.values()]));
    registry.registerMetric(this.metric("http_request_duration_seconds", "HTTP request latency by route and method", "histogram", () => this.histogram()));
  }

  private histogram() {
    const name = "http_request_duration_seconds";
    return [...this.latency.values()].flatMap(({ route, method, buckets, sum, count }) => {
      let cumulative = 0;
      const lines = LATENCY_BUCKETS.map((le, i) => {
        cumulative += buckets[i]!;
        return { metricName: `${name}_bucket`, labels: { le, route, method }, value: cumulative };
      });
      return [
        ...lines,
        { metricName: `${name}_bucket`, labels: { le: "+Inf", route, method }, value: count },
        { metricName: `${name}_sum`, labels: { route, method }, value: sum },
        { metricName: `${name}_count`, labels: { route, method }, value: count },
      ];
    });
  }

  /** A metric as the registry reads it (prom-client's own metrics implement the same `get`). */
  private metric(name: string, help: string, type: "counter" | "histogram", values: () => unknown[]) {
    const metric = { name, help, type, aggregator: "sum", get: async () => ({ name, help, type, aggregator: "sum", values: values() }) };
    return metric as unknown as Parameters<Registry["registerMetric"]>[0];
  }
}

export const httpMetrics = new HttpMetrics();
httpMetrics.register(registry);

export const natsRequestDuration = new Histogram({
  name: "nats_request_duration_seconds",
  help: "Latency of NATS requests from the HTTP side to the actors, by subject (event ids as *)",
  labelNames: ["subject", "outcome"],
  buckets: LATENCY_BUCKETS,
  registers: [registry],
});

export const commitBatchSize = new Histogram({
  name: "actor_commit_batch_size",
  help: "Ops per committed batch, by actor kind",
  labelNames: ["actor"],
  buckets: [1, 2, 5, 10, 20, 50, 100, 200, 500],
  registers: [registry],
});

export const commitDuration = new Histogram({
  name: "actor_commit_duration_seconds",
  help: "Time one batch takes to commit, by actor kind and outcome",
  labelNames: ["actor", "outcome"],
  buckets: LATENCY_BUCKETS,
  registers: [registry],
});

export const holdsExpired = new Counter({
  name: "seat_holds_expired_total",
  help: "Seat holds and unpaid reservations released because their time ran out",
  labelNames: ["kind"],
  registers: [registry],
});

export const payments = new Counter({
  name: "payments_total",
  help: "Payments by outcome",
  labelNames: ["outcome"],
  registers: [registry],
});

export const refunds = new Counter({
  name: "refunds_total",
  help: "Paid reservations refunded",
  registers: [registry],
});

export const paidAmount = new Counter({
  name: "payments_amount_krw_total",
  help: "KRW paid",
  registers: [registry],
});

export const queueAdmissions = new Counter({
  name: "queue_admissions_total",
  help: "Queue tokens that became ACTIVE, by queue (0: the global one); its rate is the admission rate",
  labelNames: ["queue"],
  registers: [registry],
});

export const fencedCommits = new Counter({
  name: "actor_commits_fenced_total",
  help: "Commits the database refused because another instance had taken the actor's entity over",
  labelNames: ["actor"],
  registers: [registry],
});

export const outboxPublished = new Counter({
  name: "outbox_events_published_total",
  help: "Domain events the event stream acknowledged (a repeat the stream dropped counts again)",
  registers: [registry],
});

export const outboxBacklog = new Gauge({
  name: "outbox_events_swept",
  help: "Events the last sweep of the outbox found still unpublished a few seconds after their commit",
  registers: [registry],
});

/** Registers gauges whose values are read from a live source at scrape time. */
export function observe(
  name: string,
  help: string,
  labelNames: string[],
  read: () => { labels: Record<string, string | number>; value: number }[],
): void {
  // The latest source wins: tests start several services in one process.
  registry.removeSingleMetric(name);
  new Gauge({
    name,
    help,
    labelNames,
    registers: [registry],
    collect() {
      this.reset();
      for (const { labels, value } of read()) this.set(labels, value);
    },
  });
}

/** A subject with its numeric event id folded, so metrics have one series per kind of request. */
export function subjectKind(subject: string): string {
  return subject.replace(/\.\d+\./, ".*.");
}

/** Times one actor commit and records its batch size, whatever its outcome. */
export async function timedCommit<T>(actor: string, size: number, work: () => Promise<T>): Promise<T> {
  const stop = commitDuration.startTimer({ actor });
  commitBatchSize.observe({ actor }, size);
  try {
    const result = await work();
    stop({ outcome: "committed" });
    return result;
  } catch (error) {
    stop({ outcome: "failed" });
    throw error;
  }
}
