import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { guardRailsOf, deniedBy } from '../../src/mcp/config';
import { isLoopback, parseListen } from '../../src/mcp/http';
import { readFrom, readTail, readTailLines, shareBudget } from '../../src/mcp/output';
import { TOOLS } from '../../src/mcp/tools';
import { toolsFor } from '../../src/mcp/toolkit';

describe('MCP output budget', () => {
  it('small streams are shown whole, big ones share what is left', () => {
    expect(shareBudget([10, 1000, 5000, 0], 1000)).toEqual([10, 495, 495, 0]);
    expect(shareBudget([10, 20], 1000)).toEqual([10, 20]);
    expect(shareBudget([], 1000)).toEqual([]);
  });

  it('tails start on a line, offsets never split a character, tail_lines counts lines', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mcp-unit-'));
    const file = join(dir, 'out');
    const text = 'one\ntwo\nthree €\nfour\n';
    writeFileSync(file, text);
    const size = Buffer.byteLength(text);
    expect(await readTail(file, size, 12)).toEqual({ text: 'four\n', start: size - 5, end: size });
    const euro = text.indexOf('€');
    const cut = await readFrom(file, 0, euro + 1);
    expect(cut.text).toBe('one\ntwo\nthree ');
    expect((await readFrom(file, cut.end, 100)).text).toBe('€\nfour\n');
    expect(await readTailLines(file, size, 2, 1000)).toMatchObject({ text: 'three €\nfour\n', lines: 2 });
    expect((await readTailLines(file, size, 10, 1000)).text).toBe(text);
    expect(await readFrom(join(dir, 'missing'), 0, 10)).toEqual({ text: '', start: 0, end: 0 });
  });
});

describe('MCP guard rails', () => {
  it('defaults, deny patterns, and errors that name the setting', () => {
    const rails = guardRailsOf({ deny: ['\\brm\\s+-rf\\b'] });
    expect(rails).toMatchObject({ readOnly: false, outputCapBytes: 128 * 1024, waitMs: 50_000 });
    expect(deniedBy(rails, 'rm -rf /')).toBeDefined();
    expect(deniedBy(rails, 'ls')).toBeUndefined();
    expect(() => guardRailsOf({ deny: ['('] }, 'mcp.yaml')).toThrow(/mcp.yaml: deny pattern "\(" is not a regular expression/);
    expect(() => guardRailsOf({ readonly: true }, 'mcp.yaml')).toThrow(/mcp.yaml: .*readonly/);
    expect(() => guardRailsOf({ outputCapKiB: 0 })).toThrow(/outputCapKiB/);
  });

  it('read-only mode keeps exactly the tools annotated read-only', () => {
    expect(toolsFor(TOOLS, { readOnly: true }).map((t) => t.name).sort()).toEqual(['agents_list', 'agents_peek', 'history', 'hosts', 'place', 'push_plan', 'run_output', 'run_status']);
    expect(toolsFor(TOOLS, { readOnly: false })).toHaveLength(TOOLS.length);
  });

  it('--http addresses', () => {
    expect(parseListen('127.0.0.1:8765')).toEqual({ host: '127.0.0.1', port: 8765 });
    expect(parseListen('[::1]:0')).toEqual({ host: '::1', port: 0 });
    expect(parseListen('8765')).toEqual({ host: '127.0.0.1', port: 8765 });
    expect(() => parseListen('host:99999')).toThrow(/HOST:PORT/);
    expect(isLoopback('127.3.4.5') && isLoopback('::1') && isLoopback('localhost')).toBe(true);
    expect(isLoopback('0.0.0.0') || isLoopback('10.0.0.1')).toBe(false);
  });
});

describe('VS Code languageModelTools contribution', () => {
  it('package.json matches the tool definitions (regenerate: npx tsx src/mcp/manifest.ts --write)', async () => {
    const { languageModelTools } = await import('../../src/mcp/manifest');
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { contributes: { languageModelTools: unknown } };
    expect(pkg.contributes.languageModelTools).toEqual(languageModelTools());
  });

  it('every tool that changes a host has a confirmation message', () => {
    for (const t of TOOLS.filter((x) => !x.readOnly)) expect(t.confirm, t.name).toBeTypeOf('function');
  });
});
