import type { IncomingMessage, ServerResponse } from 'node:http';

/**
 * Called when a client stream holds more unsent bytes than allowed, just before the bridge
 * destroys it. `unsentBytes` is what was waiting in the response when it was cut.
 */
export type OverflowHandler = (unsentBytes: number) => void;

/**
 * Bounds a response the SDK writes into directly (the legacy SSE stream): once more than
 * `maxUnsentBytes` wait in it, because the client does not read, it is destroyed instead of
 * buffered. One mechanism for every stream: all of them end in a ServerResponse, whose
 * `writableLength` is exactly what the client has not taken yet (above the kernel's socket buffers).
 */
export function boundResponse(res: ServerResponse, maxUnsentBytes: number, onOverflow: OverflowHandler): void {
  const write = res.write.bind(res) as (...args: unknown[]) => boolean;
  res.write = ((...args: unknown[]): boolean => {
    if (res.destroyed) return false;
    const ok = write(...args);
    if (!ok && res.writableLength > maxUnsentBytes) {
      const unsent = res.writableLength;
      // Destroyed first: the handler may end a session, whose teardown writes to this stream.
      res.destroy();
      onOverflow(unsent);
      return false;
    }
    return ok;
  }) as ServerResponse['write'];
}

/** The Node request as a Fetch API Request for the SDK's web-standard transport (body already parsed). */
export function webRequest(req: IncomingMessage): Request {
  const headers = new Headers();
  for (const [name, value] of Object.entries(req.headers)) {
    if (value === undefined) continue;
    headers.set(name, Array.isArray(value) ? value.join(', ') : value);
  }
  // The transport only reads method, headers and (here unused) body; the URL is never followed.
  return new Request(new URL(req.url ?? '/', 'http://mcp-bridge.invalid'), { method: req.method, headers });
}

/**
 * Writes the web-standard transport's Response to `res`. Its SSE bodies are ReadableStreams
 * the SDK enqueues into without limit, so they are read as fast as they fill and the bytes are
 * kept in `res`, where {@link boundResponse} sees them: a client that stops reading is cut
 * off at `maxUnsentBytes`, instead of the stream's queue growing in our memory.
 */
export async function sendWebResponse(res: ServerResponse, response: Response, maxUnsentBytes: number, onOverflow: OverflowHandler): Promise<void> {
  const headers: Record<string, string> = {};
  response.headers.forEach((value, name) => (headers[name] = value));
  res.writeHead(response.status, headers);
  if (response.body === null) {
    res.end();
    return;
  }
  boundResponse(res, maxUnsentBytes, onOverflow);
  // SSE clients wait for the head before the first event; do not hold it back until one.
  res.flushHeaders();
  const reader = response.body.getReader();
  // The transport learns that a client went away only from the cancelled body.
  const cancel = (): void => void reader.cancel().catch(() => undefined);
  res.once('close', cancel);
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done || res.destroyed) break;
      res.write(value);
    }
  } catch {
    // cancelled (the client left, or the stream was cut): nothing more to send
  } finally {
    res.removeListener('close', cancel);
    if (res.destroyed) cancel();
    else res.end();
  }
}
