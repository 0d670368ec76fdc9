#!/usr/bin/env node
'use strict';
// Synthesizes N distinct MCPServers in one process through the same path as `mcp-operator synth`
// (validate → desired() → YAML) and prints one JSON line: time and peak RSS.
// Usage: node bench/synth/synth-n.js N   (after `npm run compile`)
const { performance } = require('perf_hooks');
const { checkResource, desired, toYaml } = require('../../build/lib');

const n = Number(process.argv[2] ?? 1000);

function server(i) {
  return {
    apiVersion: 'mcp.io/v1',
    kind: 'MCPServer',
    metadata: { name: `server-${i}`, namespace: `team-${i % 10}` },
    spec: {
      image: `ghcr.io/acme/server-${i % 50}`,
      tag: `1.${i % 7}.0`,
      replicas: 1 + (i % 3),
      port: 8000 + (i % 100),
      command: ['node', 'server.js'],
      args: ['--verbose', `--id=${i}`],
      env: [
        { name: 'LOG_LEVEL', value: 'info' },
        { name: 'API_TOKEN', valueFrom: { secretKeyRef: { name: `server-${i}`, key: 'token' } } },
      ],
      resources: { requests: { cpu: '50m', memory: '64Mi' }, limits: { cpu: '200m', memory: '256Mi' } },
      ...(i % 4 === 0 ? { config: { 'config.json': JSON.stringify({ id: i }) } } : {}),
      ...(i % 5 === 0 ? { transport: { type: 'stdio' } } : {}),
    },
  };
}

const inputs = Array.from({ length: n }, (_, i) => server(i));
const start = performance.now();
let bytes = 0;
for (const input of inputs) {
  const { resource, issues } = checkResource(input);
  if (!resource) throw new Error(JSON.stringify(issues));
  bytes += toYaml(desired(resource)).length;
}
const ms = performance.now() - start;
const rssMiB = process.resourceUsage().maxRSS / 1024;
console.log(JSON.stringify({ servers: n, ms: Math.round(ms), perServerMs: +(ms / n).toFixed(3), yamlBytes: bytes, peakRssMiB: Math.round(rssMiB) }));
