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
 * Splits a child's stderr into log lines. Unlike stdout, an over-long stderr line is not an
 * error: it is cut into `maxLineChars` pieces so a runaway child cannot grow our memory.
 */
export class StderrLines {
  private readonly decoder = new StringDecoder('utf8');
  private pending = '';

  constructor(private readonly maxLineChars = 8192) {}

  push(chunk: Buffer): string[] {
    const text = this.pending + this.decoder.write(chunk);
    const pieces = text.split(/\r?\n/);
    this.pending = pieces.pop() ?? '';
    while (this.pending.length > this.maxLineChars) {
      pieces.push(this.pending.slice(0, this.maxLineChars));
      this.pending = this.pending.slice(this.maxLineChars);
    }
    return pieces.filter((line) => line.length > 0);
  }

  /** The unterminated remainder, for when the stream ends. */
  flush(): string[] {
    const rest = this.pending + this.decoder.end();
    this.pending = '';
    return rest.length > 0 ? [rest] : [];
  }
}
