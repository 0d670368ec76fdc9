// The smallest stdio MCP server that completes a session (initialize, tools/list). The heap
// check uses it so that 2,000 sessions take a minute, not ten: what is measured is the bridge.
const lines = require('node:readline').createInterface({ input: process.stdin });
lines.on('line', (line) => {
  const message = JSON.parse(line);
  if (message.id === undefined) return;
  let result = {};
  if (message.method === 'initialize') {
    result = { protocolVersion: message.params.protocolVersion, capabilities: { tools: {} }, serverInfo: { name: 'tiny', version: '1.0.0' } };
  } else if (message.method === 'tools/list') {
    result = { tools: [{ name: 'noop', inputSchema: { type: 'object' } }] };
  }
  process.stdout.write(`${JSON.stringify({ jsonrpc: '2.0', id: message.id, result })}\n`);
});
