import { createHash } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { isIP } from 'node:net';
import type { TLSSocket } from 'node:tls';

/**
 * Which `Host` and `Origin` a request may carry. A web page on an attacker's domain can make
 * a browser talk to the bridge once that domain resolves to the bridge's address (DNS
 * rebinding); its requests then name the attacker's host and origin, which is what this refuses.
 *
 * Always allowed: loopback names (`localhost`, `*.localhost`, 127/8, ::1; a browser sends them
 * only to a loopback address, so they cannot be rebound) and any IP literal. A rebinding page is
 * served from a DNS name, and the browser names that in Host; a Host that is an address means the
 * client addressed it directly, which is how the kubelet's probes (pod IP), kube-proxy's ClusterIP,
 * NodePorts and load balancers reach a pod.
 * Everything else must be listed: names as `name` (any port), `name:port`, `*.suffix`, or `*`.
 */
export class AccessPolicy {
  private readonly hosts: readonly HostPattern[];
  private readonly anyHost: boolean;
  private readonly origins: ReadonlySet<string>;
  private readonly anyOrigin: boolean;
  private readonly loopbackBind: boolean;

  constructor(
    bindHost: string,
    allowedHosts: readonly string[],
    allowedOrigins: readonly string[],
  ) {
    this.anyHost = allowedHosts.includes('*');
    this.hosts = allowedHosts.filter((entry) => entry !== '*').map(parseHostPattern);
    this.anyOrigin = allowedOrigins.includes('*');
    this.origins = new Set(allowedOrigins);
    this.loopbackBind = isLoopbackName(normalizeHostname(bindHost));
  }

  /** Why the request must be refused, or undefined when it may proceed. */
  check(req: IncomingMessage): Refusal | undefined {
    const hostHeader = singleHeader(req, 'host');
    if (hostHeader === undefined || hostHeader === '') {
      return { status: 400, reason: 'host-missing', message: 'Bad Request: a Host header is required' };
    }
    const host = parseAuthority(hostHeader);
    if (host === undefined || !this.hostAllowed(host)) {
      return {
        status: 421,
        reason: 'host-not-allowed',
        message: `Misdirected Request: this MCP server does not answer for host "${hostHeader.slice(0, 255)}"; allow it with --allowed-host (MCP_BRIDGE_ALLOWED_HOSTS)`,
      };
    }
    const origin = singleHeader(req, 'origin');
    if (origin !== undefined && !this.originAllowed(origin)) {
      return {
        status: 403,
        reason: 'origin-not-allowed',
        message: `Forbidden: requests from origin "${origin.slice(0, 255)}" are not allowed; allow it with --allowed-origin (MCP_BRIDGE_ALLOWED_ORIGINS)`,
      };
    }
    return undefined;
  }

  private hostAllowed(host: Authority): boolean {
    if (this.anyHost || isLoopbackName(host.name)) return true;
    if (isIP(host.name) !== 0) return true;
    return this.hosts.some((pattern) => matchesHost(pattern, host));
  }

  private originAllowed(origin: string): boolean {
    if (this.anyOrigin) return true;
    const value = origin.trim().toLowerCase();
    if (this.origins.has(value)) return true;
    if (value === 'null') return false;
    let url: URL;
    try {
      url = new URL(value);
    } catch {
      return false;
    }
    // A local tool's page (an inspector on localhost:6274) talking to a local bridge.
    return this.loopbackBind && (url.protocol === 'http:' || url.protocol === 'https:') && isLoopbackName(normalizeHostname(url.hostname));
  }
}

export interface Refusal {
  readonly status: number;
  readonly reason: string;
  readonly message: string;
}

interface Authority {
  readonly name: string;
  readonly port: number | undefined;
}

interface HostPattern {
  /** Exact name, or the suffix (with its leading dot) of a `*.suffix` pattern. */
  readonly name: string;
  readonly wildcard: boolean;
  readonly port: number | undefined;
}

function parseHostPattern(entry: string): HostPattern {
  const wildcard = entry.startsWith('*.');
  const authority = parseAuthority(wildcard ? entry.slice(1) : entry) ?? { name: entry, port: undefined };
  return { name: authority.name, wildcard, port: authority.port };
}

function matchesHost(pattern: HostPattern, host: Authority): boolean {
  if (pattern.port !== undefined && pattern.port !== host.port) return false;
  return pattern.wildcard ? host.name.endsWith(pattern.name) && host.name.length > pattern.name.length : host.name === pattern.name;
}

/** `name`, `name:port`, `[v6]`, `[v6]:port` → name (lower case, no brackets, no trailing dot) and port. */
function parseAuthority(value: string): Authority | undefined {
  const text = value.trim().toLowerCase();
  const bracketed = /^\[([0-9a-f:.]+)\](?::(\d{1,5}))?$/.exec(text);
  if (bracketed) return { name: bracketed[1]!, port: bracketed[2] === undefined ? undefined : Number(bracketed[2]) };
  if (isIP(text) === 6) return { name: text, port: undefined };
  const plain = /^([a-z0-9_.-]+)(?::(\d{1,5}))?$/.exec(text);
  if (!plain) return undefined;
  return { name: normalizeHostname(plain[1]!), port: plain[2] === undefined ? undefined : Number(plain[2]) };
}

function normalizeHostname(name: string): string {
  return name.toLowerCase().replace(/^\[|\]$/g, '').replace(/\.$/, '');
}

function isLoopbackName(name: string): boolean {
  if (name === 'localhost' || name.endsWith('.localhost')) return true;
  if (isIP(name) === 4) return name.startsWith('127.');
  return name === '::1' || name === '0:0:0:0:0:0:0:1' || name === '::ffff:127.0.0.1';
}

function singleHeader(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value.join(', ') : value;
}

/**
 * Who sent a request, as a digest of the credentials it carried (the identity headers and a TLS
 * client certificate), or undefined when it carried none. The bridge does not check credentials
 * (the MCP server or a proxy in front does); it only insists that a session keeps the ones it
 * started with, so a leaked session id is not enough to use someone else's session.
 */
export function requestIdentity(req: IncomingMessage, identityHeaders: readonly string[]): string | undefined {
  const parts: string[] = [];
  for (const name of identityHeaders) {
    const value = req.headers[name];
    if (value !== undefined) parts.push(`${name}\0${Array.isArray(value) ? value.join('\0') : value}`);
  }
  const socket = req.socket as Partial<TLSSocket>;
  if (typeof socket.getPeerCertificate === 'function') {
    const cert = socket.getPeerCertificate();
    if (cert && typeof cert.fingerprint256 === 'string' && cert.fingerprint256 !== '') parts.push(`tls-client-certificate\0${cert.fingerprint256}`);
  }
  if (parts.length === 0) return undefined;
  return createHash('sha256').update(parts.join('\0\0')).digest('hex');
}

/**
 * What logs show instead of a session id: the id is a bearer credential (whoever holds it can
 * use the session), its first 8 hex digits of SHA-256 are enough to follow one session in the
 * logs and useless for taking it over.
 */
export function sessionFingerprint(sessionId: string): string {
  return createHash('sha256').update(sessionId).digest('hex').slice(0, 8);
}
