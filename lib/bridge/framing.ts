import { StringDecoder } from 'node:string_decoder';

/** Raised when a child writes a stdout line longer than the bridge accepts. */
export class MessageTooLargeError extends Error {
  constructor(readonly limitBytes: number) {
    super(`MCP server sent a message larger than the bridge limit of ${limitBytes} bytes`);
    this.name = 'MessageTooLargeError';
  }
}

/**
 * Splits newline-delimited stdout into lines, refusing any line over `maxLineBytes`.
 *
 * The SDK's ReadBuffer re-concatenates its whole buffer on every chunk (quadratic for big
 * messages) and throws on the first non-JSON line; a bridge must survive servers that print
 * banners to stdout, so framing and parsing are kept apart here.
 */
export class LineFramer {
  private parts: Buffer[] = [];
  private pendingBytes = 0;

  constructor(private readonly maxLineBytes: number) {}

  /** Returns the complete lines in `chunk` (without their line ending). */
  push(chunk: Buffer): string[] {
    const lines: string[] = [];
    let start = 0;
    for (let nl = chunk.indexOf(0x0a, start); nl !== -1; nl = chunk.indexOf(0x0a, start)) {
      this.append(chunk.subarray(start, nl));
      lines.push(this.takeLine());
      start = nl + 1;
    }
    if (start < chunk.length) this.append(chunk.subarray(start));
    return lines;
  }

  private append(piece: Buffer): void {
    this.pendingBytes += piece.length;
    if (this.pendingBytes > this.maxLineBytes) {
      this.parts = [];
      this.pendingBytes = 0;
      throw new MessageTooLargeError(this.maxLineBytes);
    }
    if (piece.length > 0) this.parts.push(piece);
  }

  private takeLine(): string {
    const line = this.parts.length === 1 ? this.parts[0]!.toString('utf8') : Buffer.concat(this.parts).toString('utf8');
    this.parts = [];
    this.pendingBytes = 0;
    return line.endsWith('\r') ? line.slice(0, -1) : line;
  }
}

/**
 * Characters that would act on a terminal or hide text rather than show up: C0 controls but
 * tab, DEL, C1 controls (U+009B is a one-character CSI), line/paragraph separators and bidi
 * overrides. JSON encoding escapes only C0, and `kubectl logs | jq -r` undoes even that.
 */
// eslint-disable-next-line no-control-regex
const UNPRINTABLE = /[\u0000-\u0008\u000a-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;

/** Makes untrusted text safe to log or show: every unprintable character becomes `\u{XX}`. */
export function escapeControl(text: string): string {
  return text.replace(UNPRINTABLE, (c) => `\\u{${c.codePointAt(0)!.toString(16).padStart(2, '0')}}`);
}

/** Cuts `text` to `maxChars`, saying how much was dropped. */
export function truncate(text: string, maxChars: number): string {
  return text.length <= maxChars ? text : `${text.slice(0, maxChars)}… [${text.length - maxChars} more characters]`;
}

/**
 * Splits a child's stderr into log lines, escaped for display. Unlike stdout, an over-long
 * stderr line is not an error: it is cut at `maxLineChars` and the rest, up to the next
 * newline, is counted but never held, so a runaway child cannot grow our memory.
 */
export class StderrLines {
  private readonly decoder = new StringDecoder('utf8');
  private pending = '';
  /** Characters dropped from the line being read. */
  private dropped = 0;

  constructor(private readonly maxLineChars = 2048) {}

  push(chunk: Buffer): string[] {
    const pieces = (this.pending + this.decoder.write(chunk)).split(/\r?\n/);
    const last = pieces.pop() ?? '';
    const lines: string[] = [];
    for (const piece of pieces) {
      const line = this.finish(piece);
      if (line.length > 0) lines.push(line);
    }
    this.pending = last;
    if (this.pending.length > this.maxLineChars) {
      this.dropped += this.pending.length - this.maxLineChars;
      this.pending = this.pending.slice(0, this.maxLineChars);
    }
    return lines;
  }

  /** The unterminated remainder, for when the stream ends. */
  flush(): string[] {
    const line = this.finish(this.pending + this.decoder.end());
    return line.length > 0 ? [line] : [];
  }

  private finish(raw: string): string {
    let line = raw;
    let dropped = this.dropped;
    this.dropped = 0;
    if (line.length > this.maxLineChars) {
      dropped += line.length - this.maxLineChars;
      line = line.slice(0, this.maxLineChars);
    }
    this.pending = '';
    const shown = escapeControl(line);
    return dropped > 0 ? `${shown}… [${dropped} more characters]` : shown;
  }
}

export interface LogBudgetOptions {
  /** Lines let through per second, on average. */
  readonly linesPerSecond: number;
  /** Bytes let through per second, on average. */
  readonly bytesPerSecond: number;
  /** How long a burst may run at full speed before the rate applies. */
  readonly burstSeconds?: number;
}

/**
 * A token bucket for log lines from an untrusted process: lines over the budget are counted,
 * not logged, and `take` reports the count once the budget allows a line again, so the log
 * says "suppressed K lines" instead of going silent or drowning.
 */
export class LogBudget {
  private lineTokens: number;
  private byteTokens: number;
  private refilledAt: number;
  private suppressedLines = 0;
  private suppressedBytes = 0;
  private readonly burst: number;

  constructor(
    private readonly options: LogBudgetOptions,
    private readonly now: () => number = Date.now,
  ) {
    this.burst = options.burstSeconds ?? 2;
    this.lineTokens = options.linesPerSecond * this.burst;
    this.byteTokens = options.bytesPerSecond * this.burst;
    this.refilledAt = now();
  }

  /** Whether a line of `bytes` may be logged now. */
  take(bytes: number): boolean {
    this.refill();
    if (this.lineTokens >= 1 && this.byteTokens >= bytes) {
      this.lineTokens -= 1;
      this.byteTokens -= bytes;
      return true;
    }
    this.suppressedLines++;
    this.suppressedBytes += bytes;
    return false;
  }

  /** Lines and bytes suppressed since the last call, for a summary line; resets the counts. */
  drainSuppressed(): { lines: number; bytes: number } | undefined {
    if (this.suppressedLines === 0) return undefined;
    const summary = { lines: this.suppressedLines, bytes: this.suppressedBytes };
    this.suppressedLines = 0;
    this.suppressedBytes = 0;
    return summary;
  }

  private refill(): void {
    const now = this.now();
    const seconds = (now - this.refilledAt) / 1000;
    if (seconds <= 0) return;
    this.refilledAt = now;
    this.lineTokens = Math.min(this.options.linesPerSecond * this.burst, this.lineTokens + seconds * this.options.linesPerSecond);
    this.byteTokens = Math.min(this.options.bytesPerSecond * this.burst, this.byteTokens + seconds * this.options.bytesPerSecond);
  }
}
