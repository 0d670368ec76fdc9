/** The metrics and health endpoints: plain node:http, two routes each. */
import { createServer, IncomingMessage, Server, ServerResponse } from 'http';
import { AddressInfo } from 'net';

export type Route = (req: IncomingMessage) => Promise<{ status: number; contentType?: string; body: string }>;

export interface BoundServer {
  readonly server: Server;
  /** host:port actually bound (port 0 becomes the ephemeral port). */
  readonly address: string;
  close(): Promise<void>;
}

/**
 * Parses controller-runtime style bind addresses: ":8080" (every interface), "127.0.0.1:0",
 * "[::1]:8080"; "0" disables the server.
 */
export function parseBindAddress(value: string): { host?: string; port: number } | undefined {
  if (value === '0') return undefined;
  const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d{1,5})$/.exec(value);
  if (!m) throw new Error(`bad bind address ${JSON.stringify(value)} (expected host:port, :port, or 0 to disable)`);
  const port = Number(m[3]);
  if (port > 65535) throw new Error(`bad bind address ${JSON.stringify(value)}: port out of range`);
  const host = m[1] ?? m[2];
  return { host: host || undefined, port };
}

export async function serve(bind: { host?: string; port: number }, routes: Record<string, Route>): Promise<BoundServer> {
  const server = createServer((req, res) => void handle(routes, req, res));
  // Scrapes and probes are short; do not let an idle keep-alive connection hold up shutdown.
  server.keepAliveTimeout = 5_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(bind.port, bind.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const addr = server.address() as AddressInfo;
  const host = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
  return {
    server,
    address: `${host}:${addr.port}`,
    close: () => new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    }),
  };
}

async function handle(routes: Record<string, Route>, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const path = (req.url ?? '/').split('?')[0] ?? '/';
  const route = routes[path];
  if (!route || (req.method !== 'GET' && req.method !== 'HEAD')) {
    res.writeHead(route ? 405 : 404, { 'Content-Type': 'text/plain' }).end(route ? 'method not allowed\n' : 'not found\n');
    return;
  }
  try {
    const { status, contentType, body } = await route(req);
    res.writeHead(status, { 'Content-Type': contentType ?? 'text/plain; charset=utf-8' }).end(req.method === 'HEAD' ? undefined : body);
  } catch (err) {
    res.writeHead(500, { 'Content-Type': 'text/plain' }).end(`${(err as Error).message}\n`);
  }
}
