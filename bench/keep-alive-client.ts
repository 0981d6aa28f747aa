// A minimal HTTP/1.1 keep-alive client over one TCP socket, one request at a time. The load generator shares the
// service's two cores, so it has to be cheap: Bun's fetch costs about 80 µs of CPU per request here, this about a
// quarter of that, which leaves the cores to the servers being measured. It understands just what the servers under
// test send: a status line, headers and a Content-Length body.
import type { Socket } from "bun";

export interface Reply {
  status: number;
  body: string;
}

const HEADER_END = Buffer.from("\r\n\r\n");

export class KeepAliveClient {
  private socket?: Socket;
  private buffered: Buffer = Buffer.alloc(0);
  private pending?: { resolve(reply: Reply): void; reject(error: Error): void };

  constructor(private readonly url: URL) {}

  async request(method: string, path: string, headers: Record<string, string>, body?: string): Promise<Reply> {
    const socket = this.socket ?? (await this.connect());
    let head = `${method} ${path} HTTP/1.1\r\nhost: ${this.url.host}\r\n`;
    for (const [name, value] of Object.entries(headers)) head += `${name}: ${value}\r\n`;
    if (body !== undefined) head += `content-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\n`;
    const reply = new Promise<Reply>((resolve, reject) => (this.pending = { resolve, reject }));
    socket.write(head + "\r\n" + (body ?? ""));
    return reply;
  }

  close(): void {
    this.socket?.end();
  }

  private async connect(): Promise<Socket> {
    this.socket = await Bun.connect({
      hostname: this.url.hostname,
      port: Number(this.url.port),
      socket: {
        data: (_socket, chunk) => this.receive(chunk),
        close: () => this.fail(new Error("connection closed")),
        error: (_socket, error) => this.fail(error),
      },
    });
    return this.socket;
  }

  private receive(chunk: Buffer): void {
    // Copied: Bun may reuse the chunk's memory once this callback returns.
    this.buffered = Buffer.concat([this.buffered, chunk]);
    const headerEnd = this.buffered.indexOf(HEADER_END);
    if (headerEnd < 0) return;
    const head = this.buffered.toString("latin1", 0, headerEnd);
    const length = /\r\ncontent-length:\s*(\d+)/i.exec(head);
    if (!length) return this.fail(new Error(`no content-length in reply: ${head}`));
    const bodyStart = headerEnd + HEADER_END.length;
    const bodyEnd = bodyStart + Number(length[1]);
    if (this.buffered.length < bodyEnd) return;
    const reply = { status: Number(head.slice(9, 12)), body: this.buffered.toString("utf8", bodyStart, bodyEnd) };
    this.buffered = this.buffered.subarray(bodyEnd);
    const pending = this.pending;
    this.pending = undefined;
    pending?.resolve(reply);
  }

  private fail(error: Error): void {
    this.socket = undefined;
    this.buffered = Buffer.alloc(0);
    const pending = this.pending;
    this.pending = undefined;
    pending?.reject(error);
  }
}
