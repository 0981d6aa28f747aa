// An EventSource that comes back: when the connection drops (a restart, a network blip) it waits 1, 2, 4 … up to 30 s,
// with jitter so a hall of browsers does not return at one instant, asks `stillWanted` whether to go on (the token may
// have lapsed meanwhile), and opens again. The service answers every reconnection with a fresh snapshot or status.
export interface LiveStreamOptions {
  /** Handlers by event name; each gets the event's JSON data. */
  events: Record<string, (data: any) => void>;
  /** Before each reconnection: false ends the stream for good. */
  stillWanted(): Promise<boolean>;
  /** Told when the stream is up, and when it is down with the seconds until the next try. */
  onState?(state: { connected: true } | { connected: false; retryInSeconds: number }): void;
}

const MAX_DELAY_MS = 30_000;

export class LiveStream {
  private source?: EventSource;
  private failures = 0;
  private timer?: ReturnType<typeof setTimeout>;
  private closed = false;

  constructor(
    private readonly url: string,
    private readonly options: LiveStreamOptions,
  ) {
    this.open();
  }

  close(): void {
    this.closed = true;
    clearTimeout(this.timer);
    this.source?.close();
  }

  private open(): void {
    if (this.closed) return;
    const source = (this.source = new EventSource(this.url));
    source.onopen = () => {
      this.failures = 0;
      this.options.onState?.({ connected: true });
    };
    for (const [name, handle] of Object.entries(this.options.events)) {
      source.addEventListener(name, (event) => {
        // A stream's own `event: error` carries data; the browser's connection error does not.
        if (event instanceof MessageEvent && typeof event.data === "string") handle(JSON.parse(event.data));
      });
    }
    source.onerror = () => {
      source.close();
      if (!this.closed) this.retry();
    };
  }

  private retry(): void {
    const delay = Math.min(MAX_DELAY_MS, 1000 * 2 ** this.failures++) * (0.5 + Math.random() / 2);
    this.options.onState?.({ connected: false, retryInSeconds: Math.ceil(delay / 1000) });
    this.timer = setTimeout(async () => {
      const wanted = await this.options.stillWanted().catch(() => true);
      if (wanted) this.open();
      else this.close();
    }, delay);
  }
}
