import { dump } from 'js-yaml';
import type { VerifyResult } from './verify';

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

function successText(result: VerifyResult): string {
  const server = result.server!;
  const lines = [
    `OK      ${result.url}`,
    `server     ${server.name} ${server.version}${server.title ? ` (${server.title})` : ''}`,
    `protocol   ${result.protocolVersion ?? 'unknown'}`,
    `transport  ${result.transport}`,
    `features   ${result.capabilities?.join(', ') || 'none'}`,
    `time       ${result.durationMs} ms`,
    '',
    ...toolTable(result.tools),
  ];
  return `${lines.join('\n')}\n`;
}

function failureText(result: VerifyResult): string {
  const error = result.error!;
  return `FAIL    ${result.url}\nreason     ${error.kind}: ${error.message}\n`;
}

const DESCRIPTION_WIDTH = 80;

function toolTable(tools: VerifyResult['tools']): string[] {
  if (tools.length === 0) return ['no tools'];
  const width = Math.max('TOOL'.length, ...tools.map((tool) => tool.name.length));
  const rows = tools.map((tool) => `${tool.name.padEnd(width)}  ${oneLine(tool.description ?? tool.title ?? '')}`);
  return [`${'TOOL'.padEnd(width)}  DESCRIPTION`, ...rows, '', `${tools.length} tool${tools.length === 1 ? '' : 's'}`];
}

function oneLine(text: string): string {
  const line = text.split('\n')[0]!.trim();
  return line.length > DESCRIPTION_WIDTH ? `${line.slice(0, DESCRIPTION_WIDTH - 1)}…` : line;
}
