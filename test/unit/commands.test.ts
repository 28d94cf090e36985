// One command list: the ids the extension registers (src/extension/commands/ids.ts), what package.json
// contributes and what its menus and activation events name are the same commands, and every id is
// registered exactly once, through the shared registerCommand.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { COMMAND_IDS, INTERNAL_COMMANDS } from '../../src/extension/commands/ids';

const root = new URL('../..', import.meta.url).pathname;
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {
  activationEvents: string[];
  contributes: { commands: { command: string }[]; menus: Record<string, { command?: string; submenu?: string }[]> };
};

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((e) => {
    const p = join(dir, e);
    return statSync(p).isDirectory() ? sources(p) : p.endsWith('.ts') ? [p] : [];
  });
}

describe('the command registration list', () => {
  it('has each id once', () => {
    expect(new Set(COMMAND_IDS).size).toBe(COMMAND_IDS.length);
  });

  it('is what package.json contributes, but the internal commands', () => {
    const contributed = pkg.contributes.commands.map((c) => c.command).sort();
    const listed = COMMAND_IDS.filter((id) => !INTERNAL_COMMANDS.includes(id)).sort();
    expect(contributed).toEqual(listed);
  });

  it('covers every command the menus and activation events name', () => {
    const known = new Set<string>(COMMAND_IDS);
    const inMenus = Object.entries(pkg.contributes.menus).flatMap(([menu, entries]) => entries.filter((e) => e.command).map((e) => `${menu}: ${e.command}`));
    expect(inMenus.filter((m) => !known.has(m.split(': ')[1]!))).toEqual([]);
    const onCommand = pkg.activationEvents.filter((e) => e.startsWith('onCommand:')).map((e) => e.slice('onCommand:'.length));
    expect(onCommand.filter((c) => !known.has(c))).toEqual([]);
  });

  it('is registered once each, only through the shared registerCommand', () => {
    const files = sources(join(root, 'src/extension'));
    const registered: string[] = [];
    for (const f of files) {
      const text = readFileSync(f, 'utf8');
      if (!f.endsWith(join('commands', 'register.ts'))) {
        expect(text, `${f} registers through vscode.commands directly`).not.toMatch(/commands\.registerCommand\(/);
      }
      for (const m of text.matchAll(/\bregisterCommand\(\s*'([^']+)'/g)) registered.push(m[1]!);
    }
    expect(registered.sort()).toEqual([...COMMAND_IDS].sort());
  });
});
