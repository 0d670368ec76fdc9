/**
 * Text from outside (registry entries, MCP server names and tool descriptions, error bodies) is
 * written to the user's terminal by several commands. Raw, it can carry escape sequences that move
 * the cursor, rewrite earlier lines or recolour them: a server can print a fake "VERIFIED" over a
 * failure, hide a line, or set the window title. So every CLI path that prints external text passes it
 * through `terminalSafe` first: escape sequences are removed whole (so no half-sequence stays behind),
 * and every other control character is shown as a visible escape (`\x07`, `\u009b`), which keeps the
 * text recognisable without letting it act.
 */

/**
 * ESC-introduced sequences, 7-bit and the C1 8-bit forms: CSI (`ESC [` / U+009B ... final byte),
 * OSC, DCS, SOS, PM, APC (`ESC ] ... BEL|ST` and friends), and two-character escapes (`ESC c`, `ESC 7`).
 * Unterminated string sequences run to the end of the text, as a terminal would swallow them.
 */
// eslint-disable-next-line no-control-regex
const ESCAPE_SEQUENCE = /(?:\x1b\[|\x9b)[\x30-\x3f]*[\x20-\x2f]*[\x40-\x7e]?|(?:\x1b[\]PX^_]|[\x90\x98\x9d\x9e\x9f])[\s\S]*?(?:\x07|\x1b\\|\x9c|$)|\x1b[\x20-\x2f]*[\x30-\x7e]?/g;

/** C0 controls except tab and newline, DEL, C1 controls, and the Unicode bidi overrides that reorder text. */
// eslint-disable-next-line no-control-regex
const CONTROL = /[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;

/** For multi-line text: newlines and tabs stay; everything else that would act on the terminal does not. */
export function terminalSafe(text: string): string {
  return text.replace(ESCAPE_SEQUENCE, '').replace(CONTROL, visible);
}

/** For one table cell or one line: newlines and tabs are shown as escapes as well. */
export function terminalSafeLine(text: string): string {
  return terminalSafe(text).replace(/[\t\n]/g, visible);
}

function visible(ch: string): string {
  const code = ch.charCodeAt(0);
  return code <= 0xff ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`;
}
