import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import { ErrorCode, type RequestId } from '@modelcontextprotocol/sdk/types.js';

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: OutgoingHttpHeaders = {}): void {
  if (res.headersSent) {
    res.end();
    return;
  }
  const text = JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

/** Errors on the MCP endpoints are JSON-RPC error objects, which is what MCP clients parse. */
export function sendJsonRpcError(
  res: ServerResponse,
  status: number,
  code: number,
  message: string,
  options: { id?: RequestId | null; headers?: OutgoingHttpHeaders; data?: unknown } = {},
): void {
  const error = options.data === undefined ? { code, message } : { code, message, data: options.data };
  sendJson(res, status, { jsonrpc: '2.0', error, id: options.id ?? null }, options.headers);
}

export type BodyResult =
  | { readonly ok: true; readonly value: unknown }
  | { readonly ok: false; readonly status: number; readonly code: number; readonly message: string };

/**
 * Reads and parses a JSON request body, refusing more than `maxBytes` without buffering it:
 * the SDK transports only enforce their own limit when they read the body themselves, and we
 * must read it first to route (is this an initialize?).
 */
export function readJsonBody(req: IncomingMessage, maxBytes: number): Promise<BodyResult> {
  const tooLarge: BodyResult = {
    ok: false,
    status: 413,
    code: ErrorCode.InvalidRequest,
    message: `Payload Too Large: a message must not exceed ${maxBytes} bytes`,
  };
  if (Number(req.headers['content-length']) > maxBytes) return Promise.resolve(tooLarge);
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer): void => {
      size += chunk.length;
      if (size > maxBytes) {
        cleanup();
        resolve(tooLarge);
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = (): void => {
      cleanup();
      resolve(parseJson(Buffer.concat(chunks).toString('utf8')));
    };
    const onError = (): void => {
      cleanup();
      resolve({ ok: false, status: 400, code: ErrorCode.ParseError, message: 'Request body could not be read' });
    };
    const cleanup = (): void => {
      req.removeListener('data', onData);
      req.removeListener('end', onEnd);
      req.removeListener('error', onError);
    };
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
  });
}

function parseJson(text: string): BodyResult {
  try {
    return { ok: true, value: JSON.parse(text) as unknown };
  } catch {
    return { ok: false, status: 400, code: ErrorCode.ParseError, message: 'Parse error: request body is not valid JSON' };
  }
}

/** Answers a body that could not be accepted; an over-long body also costs the connection. */
export function sendBodyError(req: IncomingMessage, res: ServerResponse, result: Extract<BodyResult, { ok: false }>): void {
  const closeConnection = result.status === 413;
  sendJsonRpcError(res, result.status, result.code, result.message, { headers: closeConnection ? { Connection: 'close' } : {} });
  // The rest of an oversized body is never read: drop the socket instead of draining it.
  if (closeConnection) res.once('finish', () => req.destroy());
}

export function header(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value[0] : value;
}
