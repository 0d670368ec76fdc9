import pino, { type Logger } from 'pino';

/**
 * JSON lines on stderr: stdout may be someone's pipe, and Kubernetes collects both. Writes
 * are synchronous so the last lines before an exit (a crash report, "stopped") are not lost.
 */
export function createLogger(level = 'info'): Logger {
  return pino({ name: 'mcp-bridge', level }, pino.destination({ dest: 2, sync: true }));
}
