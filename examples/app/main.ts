/**
 * A cdk8s app that uses the MCPServer construct the way infrastructure code would: every MCPServer
 * YAML under examples/servers becomes a chart, and one server is written in TypeScript directly.
 * Run it with `npx cdk8s synth --no-check-upgrade` (see cdk8s.yaml); output lands in dist/cdk8s/.
 */
import { join } from 'path';
import { App, Chart } from 'cdk8s';
import { Construct } from 'constructs';
import { McpServer, McpServerSpecTransportType } from '../../imports/mcp.io';
import { MCPServer, readInputs, validateDocuments } from '../../lib';

class ServersFromYaml extends Chart {
  constructor(scope: Construct, id: string, dir: string) {
    super(scope, id, { disableResourceNameHashes: true });
    for (const { resource } of validateDocuments(readInputs([dir], () => ''))) {
      new MCPServer(this, resource.metadata.name, { ...resource.spec, name: resource.metadata.name });
    }
  }
}

class EverythingServer extends Chart {
  constructor(scope: Construct, id: string) {
    super(scope, id, { namespace: 'mcp', disableResourceNameHashes: true });
    // A stdio server from npm: the in-pod bridge serves it over streamable HTTP.
    const server = new MCPServer(this, 'everything', {
      image: 'node',
      tag: '24-bookworm-slim',
      transport: { type: 'stdio' },
      command: ['npx', '-y', '@modelcontextprotocol/server-everything@2026.8.31'],
      env: [{ name: 'npm_config_cache', value: '/home/mcp/.npm' }],
      resources: { requests: { cpu: '100m', memory: '256Mi' }, limits: { cpu: '1', memory: '1Gi' } },
    });
    // Escape hatch: the construct exposes what it made.
    server.deployment.metadata.addAnnotation('example.com/owner', 'platform-team');
  }
}

/** The same server as a custom resource, for clusters that run `mcp-operator controller`. */
class EverythingResource extends Chart {
  constructor(scope: Construct, id: string) {
    super(scope, id, { namespace: 'mcp' });
    new McpServer(this, 'everything', {
      metadata: { name: 'everything-cr' },
      spec: { image: 'node', tag: '24-bookworm-slim', transport: { type: McpServerSpecTransportType.STDIO }, command: ['npx', '-y', '@modelcontextprotocol/server-everything@2026.8.31'] },
    });
  }
}

const app = new App({ outdir: join(__dirname, '../../dist/cdk8s') });
new ServersFromYaml(app, 'seed-servers', join(__dirname, '../servers'));
new EverythingServer(app, 'everything');
new EverythingResource(app, 'everything-resource');
app.synth();
