#!/usr/bin/env node
'use strict';
// A plain JavaScript entry so the CLI starts without a TypeScript toolchain; the code is in build/.
const [major, minor] = process.versions.node.split('.').map(Number);
if (major < 22 || (major === 22 && minor < 19)) {
  process.stderr.write(`mcp-operator needs Node.js >= 22.19 (this is ${process.version}); run: source hack/env.sh\n`);
  process.exit(2);
}
// Reuses V8's compiled code across runs (Node >= 22.1): most of a short command's time is loading modules.
require('module').enableCompileCache?.();
// A closed pipe (`mcp-operator crd | head`) is the reader's choice, not an error worth a stack trace.
process.stdout.on('error', (err) => { if (err.code === 'EPIPE') process.exit(0); throw err; });
require('../build/lib/cli/main.js').run(process.argv.slice(2)).then((code) => { process.exitCode = code; });
