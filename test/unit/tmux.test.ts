import { describe, expect, it } from 'vitest';
import { attachCommand } from '../../src/core/tmux/attach';
import { listingScript, parseListing, PANE_FIELDS, type PaneRow } from '../../src/core/tmux/listing';
import {
  AgentTargetError, defaultSessionName, formatAgentTarget, parseAgentTarget, tmuxTargetOf, validateSessionName,
} from '../../src/core/tmux/names';
import { paneProgram, spawnScript } from '../../src/core/tmux/sessions';

function decoded(command: string): string {
  const b64 = /b=([A-Za-z0-9+/=]+);/.exec(command)![1]!;
  return Buffer.from(b64, 'base64').toString('utf8');
}

describe('validateSessionName', () => {
  it.each([
    ['', /cannot be empty/],
    ['a.b', /"\." or ":"/],
    ['a:b', /"\." or ":"/],
    ['a\tb', /control characters/],
    ['a\u001b[31m', /control characters/],
    [' lead', /whitespace/],
    ['trail ', /whitespace/],
    ['-t', /starts with "-"/],
    ['$(id)', /starts with "\$"/],
  ])('rejects %j', (name, why) => {
    expect(() => validateSessionName(name)).toThrow(AgentTargetError);
    expect(() => validateSessionName(name)).toThrow(why);
  });

  it.each(['claude-api', 'my agent', 'naïve_1', "it's", 'a$(id)', '@x', '%x'])('accepts %j', (name) => {
    expect(validateSessionName(name)).toBe(name);
  });
});

describe('agent targets', () => {
  it('parses host:session, host:session:window and host:session:window.pane', () => {
    expect(parseAgentTarget('lab-1:api')).toEqual({ host: 'lab-1', session: 'api' });
    expect(parseAgentTarget('lab-1:api:2')).toEqual({ host: 'lab-1', session: 'api', window: '2' });
    expect(parseAgentTarget('lab-1:api:editor')).toEqual({ host: 'lab-1', session: 'api', window: 'editor' });
    expect(parseAgentTarget('lab-1:api:2.1')).toEqual({ host: 'lab-1', session: 'api', window: '2', pane: 1 });
  });

  it.each([
    ['lab-1', /HOST:SESSION/],
    [':api', /HOST:SESSION/],
    ['lab-1:', /cannot be empty/],
    ['lab-1:a.b', /"\." or ":"/],
    ['lab-1:api:', /empty window/],
    ['lab-1:api:a:b', /use the window index/],
    ['-oProxyCommand=x:api', /invalid host/],
  ])('rejects %j', (text, why) => {
    expect(() => parseAgentTarget(text)).toThrow(why);
  });

  it('round-trips through formatAgentTarget', () => {
    for (const t of ['h:s', 'h:s:0', 'h:s:3.2', 'h:my agent:work']) expect(formatAgentTarget(parseAgentTarget(t))).toBe(t);
  });

  it('makes exact-match tmux targets', () => {
    expect(tmuxTargetOf({ session: 'api' })).toBe('=api:');
    expect(tmuxTargetOf({ session: 'api', window: '2', pane: 1 })).toBe('=api:2.1');
    expect(tmuxTargetOf({ session: 'api', window: 'editor' })).toBe('=api:=editor');
  });

  it('derives a usable default session name', () => {
    expect(defaultSessionName('~/src/payments.v2', 'claude --resume')).toBe('claude-payments_v2');
    expect(defaultSessionName('~', '/usr/local/bin/codex')).toBe('codex-home');
    expect(validateSessionName(defaultSessionName('/srv/-odd:dir/', '-x'))).toBeTruthy();
  });
});

describe('listing', () => {
  const token = 'FLTabc123';
  const row = (over: Partial<PaneRow>): string => {
    const base: PaneRow = {
      session_name: 'api', session_attached: '0', session_activity: '1700000000',
      window_index: '0', window_name: 'claude', window_active: '1', window_activity: '1700000100',
      pane_id: '%1', pane_index: '0', pane_active: '1', pane_dead: '0', pane_width: '80', pane_height: '24',
      pane_current_command: 'claude', pane_current_path: '/srv/api',
    };
    const r = { ...base, ...over };
    return `${token}r` + PANE_FIELDS.map((f) => r[f]).join(`${token}f`);
  };

  it('asks tmux for every field once, in one command, with captures', () => {
    const script = listingScript({ token, captureLines: 40 });
    expect(script).toContain('tmux list-panes -a -F');
    expect(script).toContain('tmux capture-pane -p -J -t "$p" -S -40');
    for (const f of PANE_FIELDS) expect(script).toContain(`#{${f}}`);
    expect(script).not.toContain('sleep');
    expect(listingScript({ token, captureLines: 40, sampleMs: 1000 })).toContain('sleep 1.000');
  });

  it('parses panes whose paths hold tabs and newlines, and captures holding anything but the token', () => {
    const out = [
      `${token} state ok`,
      row({}),
      row({ session_name: 'web', pane_id: '%7', pane_current_path: '/srv/we\tird\npath', pane_current_command: 'bash' }),
      `${token} capture %1`,
      'line one',
      `FLTother state no-tmux`,
      `${token}x not a header`,
      '',
      `${token} capture %7`,
      'flotilla@h:~$ ',
      `${token} end`,
      '',
    ].join('\n');
    const p = parseListing(out, token);
    expect(p.state).toBe('ok');
    if (p.state !== 'ok') return;
    expect(p.complete).toBe(true);
    expect(p.panes).toHaveLength(2);
    expect(p.panes[1]).toMatchObject({ session_name: 'web', pane_id: '%7', pane_current_path: '/srv/we\tird\npath' });
    expect(p.captures.get('%1')).toBe(`line one\nFLTother state no-tmux\n${token}x not a header\n`);
    expect(p.captures.get('%7')).toBe('flotilla@h:~$ ');
  });

  it('reports no-tmux, no-server and other failures as states', () => {
    expect(parseListing(`${token} state no-tmux\n`, token)).toEqual({ state: 'no-tmux' });
    expect(parseListing(`${token} state failed\nno server running on SOCKET\n`, token)).toEqual({ state: 'no-server' });
    expect(parseListing(`${token} state failed\nerror connecting to SOCKET (No such file or directory)\n`, token)).toEqual({ state: 'no-server' });
    expect(parseListing(`${token} state failed\nopen terminal failed: boom\n`, token)).toEqual({ state: 'error', message: 'open terminal failed: boom' });
    expect(parseListing('', token, 'bash: line 1: /bin/sh: Permission denied')).toMatchObject({ state: 'error', message: expect.stringContaining('Permission denied') });
  });

  it('skips a truncated row rather than misreading it', () => {
    const p = parseListing(`${token} state ok\n${row({}).split(`${token}f`).slice(0, 5).join(`${token}f`)}\n`, token);
    expect(p.state === 'ok' && p.panes).toEqual([]);
  });
});

describe('spawn and attach commands', () => {
  it('execs a simple command so tmux names it, and leaves shell syntax to sh', () => {
    expect(paneProgram('claude')).toBe('exec claude');
    expect(paneProgram('  claude --model opus  ')).toBe('exec claude --model opus');
    expect(paneProgram('"$HOME/bin/agent" --go')).toBe('exec "$HOME/bin/agent" --go');
    expect(paneProgram(['aider', "it's; rm -rf /"])).toBe("exec aider 'it'\\''s; rm -rf /'");
    expect(paneProgram('cd sub && claude')).toBe('cd sub && claude');
    expect(paneProgram('FOO=1 claude')).toBe('FOO=1 claude');
    expect(paneProgram('if true; then claude; fi')).toBe('if true; then claude; fi');
    expect(() => paneProgram('  ')).toThrow(/empty/);
    expect(() => paneProgram([])).toThrow(/empty/);
  });

  it('quotes the session, directory and command in the spawn script', () => {
    const s = spawnScript('lab-1', { dir: "~/it's $(here)", command: 'claude', session: "x'; reboot; '" });
    expect(s).toContain(`d="$HOME"/'it'\\''s $(here)'`);
    expect(s).toContain(`tmux new-session -d -s 'x'\\''; reboot; '\\''' -c "$d" -- /bin/sh -c`);
    expect(() => spawnScript('lab-1', { dir: '/tmp', command: 'claude', session: 'a.b' })).toThrow(AgentTargetError);
  });

  it('builds attach commands through the base64 wrapper', () => {
    const create = attachCommand('my agent', { create: true });
    expect(create).not.toContain('my agent');
    expect(decoded(create)).toContain("exec tmux new-session -A -s 'my agent'");
    expect(decoded(attachCommand({ session: 'api', window: '2' }, { create: false }))).toContain("exec tmux attach-session -t '=api:2'");
    expect(decoded(attachCommand('api', { create: true, cwd: '~/src' }))).toContain('cd -- "$HOME"/src || exit 1');
    expect(() => attachCommand('a:b', { create: true })).toThrow(AgentTargetError);
  });
});
