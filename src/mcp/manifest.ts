// The agent tools as VS Code's package.json `languageModelTools` contribution, generated from the same
// definitions (names, descriptions, zod schemas) as the MCP server, so the two never drift. A unit test
// compares package.json with this; `npx tsx src/mcp/manifest.ts --write` rewrites it.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as z from './zod';
import { vscodeToolName, type ToolDef } from './toolkit';
import { TOOLS } from './tools';

/** Descriptions name the other tools by their MCP names; VS Code knows them as flotilla_<name>. */
const VSCODE_NAMED = /\b(run_status|run_output|cancel_run|push_plan|push_apply|agents_list|agents_peek|agents_send)\b/g;
const forVscode = (text: string) => text.replace(VSCODE_NAMED, 'flotilla_$1');

export function inputJsonSchema(tool: ToolDef): Record<string, unknown> {
  const { $schema: _drop, ...schema } = z.toJSONSchema(z.strictObject(tool.input), { target: 'draft-7' }) as Record<string, unknown>;
  return schema;
}

export function languageModelTools() {
  return TOOLS.map((t) => ({
    name: vscodeToolName(t),
    displayName: `Flotilla: ${t.title}`,
    toolReferenceName: vscodeToolName(t),
    canBeReferencedInPrompt: true,
    icon: t.readOnly ? '$(server)' : '$(server-process)',
    userDescription: t.title,
    modelDescription: forVscode(t.description),
    tags: ['flotilla', t.readOnly ? 'read-only' : 'changes-hosts'],
    inputSchema: JSON.parse(forVscode(JSON.stringify(inputJsonSchema(t)))) as Record<string, unknown>,
  }));
}

if (require.main === module && process.argv.includes('--write')) {
  const file = join(__dirname, '..', '..', 'package.json');
  const pkg = JSON.parse(readFileSync(file, 'utf8')) as { contributes: Record<string, unknown> };
  pkg.contributes.languageModelTools = languageModelTools();
  writeFileSync(file, `${JSON.stringify(pkg, null, 2)}\n`);
}
