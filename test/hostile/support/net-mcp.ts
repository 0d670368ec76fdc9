/**
 * A minimal streamable-HTTP MCP server on 127.0.0.1 whose answers a test scripts per JSON-RPC method:
 * well-formed JSON, an endless JSON body, one endless SSE event, or a redirect. Just enough protocol
 * for `verifyServer` (initialize, notifications, tools/list, GET → 405, DELETE).
 */
import { IncomingMessage, ServerResponse } from 'http';
import { HostilePeer, requestBody } from './net-servers';

export interface JsonRpcRequest {
  readonly id?: number | string;
  readonly method: string;
  readonly params?: Record<string, any>;
}

export type Answer =
  | { readonly kind: 'result'; readonly result: unknown }
  | { readonly kind: 'endless-json' }
  | { readonly kind: 'endless-sse-event' }
  | { readonly kind: 'redirect'; readonly location: string };

export type Script = (request: JsonRpcRequest) => Answer | undefined;

export function initializeResult(request: JsonRpcRequest, serverInfo: Record<string, unknown> = { name: 'hostile', version: '1.0.0' }): Answer {
  return { kind: 'result', result: { protocolVersion: request.params?.protocolVersion, capabilities: { tools: {} }, serverInfo } };
}

/** Starts the server; `script` answers each request, undefined falls back to a plain initialize. */
export function startMcpPeer(script: Script): Promise<HostilePeer> {
  return HostilePeer.start(async (req: IncomingMessage, res: ServerResponse, peer) => {
    if (req.method === 'GET' || req.method === 'DELETE') {
      res.writeHead(405);
      return void res.end();
    }
    const message = JSON.parse(await requestBody(req)) as JsonRpcRequest;
    if (message.id === undefined) {
      res.writeHead(202);
      return void res.end();
    }
    const answer = script(message) ?? (message.method === 'initialize' ? initializeResult(message) : { kind: 'result', result: {} });
    switch (answer.kind) {
      case 'result':
        res.writeHead(200, { 'content-type': 'application/json' });
        return void res.end(JSON.stringify({ jsonrpc: '2.0', id: message.id, result: answer.result }));
      case 'redirect':
        res.writeHead(307, { location: answer.location });
        return void res.end();
      case 'endless-json':
        res.writeHead(200, { 'content-type': 'application/json' });
        res.write(`{"jsonrpc":"2.0","id":${JSON.stringify(message.id)},"result":{"padding":"`);
        return peer.stream(res, Buffer.alloc(64 * 1024, 0x61));
      case 'endless-sse-event':
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        res.write('event: message\ndata: {"jsonrpc":"2.0","padding":"');
        return peer.stream(res, Buffer.alloc(64 * 1024, 0x61));
    }
  });
}
