/**
 * Misbehaving HTTP peers on 127.0.0.1 for the hostile-input suite: each counts its requests and the
 * bytes it managed to send, so a test can prove the client stopped reading (not merely that it failed).
 * Every endless writer stops by itself when the client goes away, and on close().
 */
import { readFileSync } from 'fs';
import { createServer, IncomingMessage, Server, ServerResponse } from 'http';
import { AddressInfo } from 'net';

export type Handler = (req: IncomingMessage, res: ServerResponse, peer: HostilePeer) => void | Promise<void>;

export class HostilePeer {
  public static async start(handler: Handler): Promise<HostilePeer> {
    const peer = new HostilePeer(handler);
    await new Promise<void>((resolve) => peer.server.listen(0, '127.0.0.1', resolve));
    return peer;
  }

  public readonly paths: string[] = [];
  /** Bytes handed to sockets (what the kernel accepted), all requests together. */
  public bytesSent = 0;
  private readonly server: Server;

  private constructor(handler: Handler) {
    this.server = createServer((req, res) => {
      this.paths.push(req.url ?? '');
      void Promise.resolve(handler(req, res, this)).catch(() => res.destroy());
    });
  }

  public get requests(): number {
    return this.paths.length;
  }

  public get url(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  public async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  /**
   * Writes `chunk` for as long as the client reads (respecting backpressure), up to `maxBytes` as a
   * safety stop for the test itself; returns when the client hung up or the cap was reached.
   */
  public async stream(res: ServerResponse, chunk: Buffer, maxBytes = 1024 * 1024 * 1024): Promise<void> {
    let sent = 0;
    let gone = false;
    res.on('close', () => (gone = true));
    while (!gone && sent < maxBytes) {
      const ok = res.write(chunk);
      sent += chunk.length;
      this.bytesSent += chunk.length;
      if (!ok) await new Promise<void>((resolve) => { res.once('drain', resolve); res.once('close', resolve); });
    }
    if (!gone) res.end();
  }
}

/** Reads a request body (bounded: these servers only ever get small JSON-RPC requests). */
export async function requestBody(req: IncomingMessage): Promise<string> {
  let body = '';
  for await (const chunk of req) {
    body += String(chunk);
    if (body.length > 1024 * 1024) throw new Error('request body too large for a test server');
  }
  return body;
}

/** Samples the resident set size of `pid` from /proc, in bytes. */
export function rssOf(pid: number = process.pid): number {
  const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return match ? Number(match[1]) * 1024 : 0;
}

export const MIB = 1024 * 1024;
