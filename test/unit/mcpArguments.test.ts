// What an agent (or the person writing the server's config) is told about bad input, as VS Code's agent
// mode sees it: this file imports no MCP SDK module, whose classic zod would set up English messages for
// the mini build too; the extension bundle has only the mini build.
import { describe, expect, it } from 'vitest';
import { guardRailsOf } from '../../src/mcp/config';
import { invokeTool, type ToolEnv } from '../../src/mcp/toolkit';
import { TOOLS } from '../../src/mcp/tools';

describe('bad input is answered with what is wrong, not just "Invalid input"', () => {
  it('tool arguments', async () => {
    const runOutput = TOOLS.find((t) => t.name === 'run_output')!;
    const env = { rails: guardRailsOf({}) } as unknown as ToolEnv;
    const r = await invokeTool(runOutput, { run_id: 'x', host: 'h', offset: -1, stream: 'both', tail: 3 }, env, { signal: new AbortController().signal });
    expect(r).toEqual({ isError: true, data: {
      error: 'bad arguments for run_output: stream: Invalid option: expected one of "stdout"|"stderr"; offset: Too small: expected number to be >=0; arguments: Unrecognized key: "tail"',
      hint: 'see the tool\'s input schema',
    } });
  });

  it('server settings', () => {
    expect(() => guardRailsOf({ waitSeconds: 'soon', deny: [''] }, 'mcp.yaml'))
      .toThrow('mcp.yaml: deny.0: Too small: expected string to have >=1 characters; waitSeconds: Invalid input: expected number, received string');
  });
});
