// Flotilla's agent tools inside VS Code's extension host: contributed and registered (vscode.lm.tools),
// and callable (vscode.lm.invokeTool) through the same implementations as `flotilla mcp`.
import * as assert from 'node:assert/strict';
import { describe, it } from 'mocha';
import * as vscode from 'vscode';
import type { ExtensionApi } from '../../src/extension/main';

const EXTENSION_ID = 'flotilla.flotilla';

async function loadedFleet(): Promise<ExtensionApi['fleet']> {
  const ext = vscode.extensions.getExtension<ExtensionApi>(EXTENSION_ID)!;
  const { fleet } = await ext.activate();
  await fleet.ready;
  return fleet;
}

async function invoke(name: string, input: object): Promise<Record<string, unknown>> {
  const result = await vscode.lm.invokeTool(name, { input, toolInvocationToken: undefined });
  const part = result.content[0] as vscode.LanguageModelTextPart;
  return JSON.parse(part.value) as Record<string, unknown>;
}

describe('Flotilla agent tools (vscode.lm)', () => {
  it('lists every contributed tool through vscode.lm.tools, with its input schema', async () => {
    await loadedFleet();
    const ext = vscode.extensions.getExtension(EXTENSION_ID)!;
    const contributed = (ext.packageJSON.contributes.languageModelTools as { name: string }[]).map((t) => t.name).sort();
    assert.equal(contributed.length, 13);
    const registered = vscode.lm.tools.filter((t) => t.name.startsWith('flotilla_'));
    assert.deepEqual(registered.map((t) => t.name).sort(), contributed);
    const run = registered.find((t) => t.name === 'flotilla_run')!;
    const schema = run.inputSchema as { properties: Record<string, unknown>; required: string[] };
    assert.deepEqual(Object.keys(schema.properties), ['target', 'command', 'cwd', 'timeout_s', 'files', 'wait_s']);
    assert.deepEqual(schema.required, ['target', 'command']);
  });

  it('invokes flotilla_hosts and flotilla_history through vscode.lm.invokeTool', async () => {
    const fleet = await loadedFleet();
    const hosts = await invoke('flotilla_hosts', {});
    assert.ok(Array.isArray(hosts.hosts), JSON.stringify(hosts));
    assert.equal((hosts.hosts as unknown[]).length, fleet.aliases.length);
    const history = await invoke('flotilla_history', { limit: 3 });
    assert.ok(Array.isArray(history.runs), JSON.stringify(history));
  });

  it('a bad target or bad arguments come back as an answer naming the problem', async () => {
    await loadedFleet();
    const bad = await invoke('flotilla_run', { target: 'no-such-host-e2e', command: 'true' });
    assert.match(String(bad.error), /no-such-host-e2e/);
    const wrong = await invoke('flotilla_run_output', { run_id: 'x', host: 'h', offset: -1 });
    assert.match(String(wrong.error), /offset/);
  });
});
