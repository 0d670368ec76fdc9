import { dump } from 'js-yaml';
import type { VerifyResult } from './verify';
import { terminalSafeLine } from '../util/terminal';

export type OutputFormat = 'text' | 'json' | 'yaml';

export const OUTPUT_FORMATS: readonly OutputFormat[] = ['text', 'json', 'yaml'];

export function formatVerifyResult(result: VerifyResult, format: OutputFormat): string {
  switch (format) {
    case 'json':
      return `${JSON.stringify(result, null, 2)}\n`;
    case 'yaml':
      return dump(result, { noRefs: true, lineWidth: 120 });
    case 'text':
      return result.ok ? successText(result) : failureText(result);
  }
}

/** Every string below comes from the server under test: none may act on the terminal (a fake "OK" line). */
function successText(result: VerifyResult): string {
  const server = result.server!;
  const safe = terminalSafeLine;
  const lines = [
    `OK      ${safe(result.url)}`,
    `server     ${safe(server.name)} ${safe(server.version)}${server.title ? ` (${safe(server.title)})` : ''}`,
    `protocol   ${safe(result.protocolVersion ?? 'unknown')}`,
    `transport  ${result.transport}`,
    `features   ${safe(result.capabilities?.join(', ') || 'none')}`,
    `time       ${result.durationMs} ms`,
    '',
    ...toolTable(result.tools),
  ];
  return `${lines.join('\n')}\n`;
}

function failureText(result: VerifyResult): string {
  const error = result.error!;
  return `FAIL    ${terminalSafeLine(result.url)}\nreason     ${error.kind}: ${terminalSafeLine(error.message)}\n`;
}

const DESCRIPTION_WIDTH = 80;

function toolTable(tools: VerifyResult['tools']): string[] {
  if (tools.length === 0) return ['no tools'];
  const names = tools.map((tool) => terminalSafeLine(tool.name));
  // A loop, not Math.max(...names): spreading 200k tools into one call overflows the stack.
  let width = 'TOOL'.length;
  for (const name of names) width = Math.max(width, name.length);
  const rows = tools.map((tool, i) => `${names[i]!.padEnd(width)}  ${oneLine(tool.description ?? tool.title ?? '')}`);
  return [`${'TOOL'.padEnd(width)}  DESCRIPTION`, ...rows, '', `${tools.length} tool${tools.length === 1 ? '' : 's'}`];
}

function oneLine(text: string): string {
  const line = terminalSafeLine(text.split('\n')[0]!.trim());
  return line.length > DESCRIPTION_WIDTH ? `${line.slice(0, DESCRIPTION_WIDTH - 1)}…` : line;
}
