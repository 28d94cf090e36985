// `flotilla mcp` driven by the official MCP SDK client, over stdio and Streamable HTTP, on lab hosts: the
// tools an agent sees, runs on two hosts, failures and bad targets as tool results, a 400,000-line output
// capped then read with run_output, cancel of a long run (remote process gone), push_plan -> push_apply,
// agents_send / agents_peek on a scripted agent, and the guard rails (read-only, allowlist, deny-list,
// host keys, tokens, Host/Origin checks).
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { CallToolResultSchema, type Progress } from '@modelcontextprotocol/sdk/types.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RunStore } from '../../src/core/jobs/store';
import { bundleCli, spawnCli } from './cliProcess';
import { pgrep, startFleet, waitUntil, type TestFleet } from './fleet';

const canRunLab = process.getuid?.() === 0;
const FAKE_AGENT = readFileSync(new URL('./fixtures/fake-agent.sh', import.meta.url), 'utf8');

interface Answer { isError: boolean; data: Record<string, any> }

async function call(client: Client, name: string, args: Record<string, unknown> = {}, onprogress?: (p: Progress) => void): Promise<Answer> {
  const r = await client.callTool({ name, arguments: args }, CallToolResultSchema, { onprogress, timeout: 120_000 });
  const text = (r.content as { type: string; text: string }[])[0]!.text;
  let data: Record<string, any>;
  try { data = JSON.parse(text); } catch { data = { error: text }; }
  return { isError: !!r.isError, data };
}

describe.skipIf(!canRunLab)('flotilla mcp with the SDK client on the lab', () => {
  let fleet: TestFleet;
  let cli: string;
  let store: string;
  let base: string[];
  let client: Client;
  const others: Client[] = [];
  const children: ChildProcess[] = [];
  const env = { SSH_AUTH_SOCK: '', FLOTILLA_SSH_CONFIG: '', XDG_CONFIG_HOME: '/nonexistent' };
  const homeOf = (alias: string) => join(fleet.lab.info.hosts.find((h) => h.alias === alias)!.isolatedHome!, 'flotilla');

  const stdioClient = async (extra: string[] = []): Promise<Client> => {
    const c = new Client({ name: 'flotilla-test', version: '1.0.0' });
    await c.connect(new StdioClientTransport({
      command: process.execPath, args: [cli, ...base, 'mcp', ...extra], env: { ...process.env, ...env } as Record<string, string>, stderr: 'ignore',
    }));
    others.push(c);
    return c;
  };

  /** `flotilla mcp --http 127.0.0.1:0 …` as a process; resolves with the URL it prints. */
  const httpServer = (extra: string[] = [], more: Record<string, string> = {}): Promise<{ url: string; child: ChildProcess }> => {
    const child = spawn(process.execPath, [cli, ...base, 'mcp', '--http', '127.0.0.1:0', ...extra], { env: { ...process.env, ...env, ...more }, stdio: ['ignore', 'pipe', 'pipe'] });
    children.push(child);
    return new Promise((resolve, reject) => {
      let out = '';
      child.stdout!.on('data', (d: Buffer) => { out += d.toString(); if (out.includes('\n')) resolve({ url: out.trim(), child }); });
      child.once('exit', (code) => reject(new Error(`flotilla mcp --http exited ${code}`)));
    });
  };

  const rawPost = (url: string, headers: Record<string, string>): Promise<number> => new Promise((resolve, reject) => {
    const u = new URL(url);
    const req = request({ host: u.hostname, port: u.port, path: u.pathname, method: 'POST', headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', ...headers } }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', reject);
    req.end(JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 't', version: '1' } } }));
  });

  beforeAll(async () => {
    fleet = await startFleet({ hosts: 2, isolated: true });
    cli = await bundleCli(fleet.dir);
    store = join(fleet.dir, 'store');
    base = ['--ssh-config', fleet.lab.info.sshConfig, '--groups', fleet.lab.info.groups, '--store', store];
    for (const h of ['lab-1', 'lab-2']) writeFileSync(join(homeOf(h), 'fake-agent.sh'), FAKE_AGENT, { mode: 0o755 });
    client = await stdioClient();
  });

  afterAll(async () => {
    for (const c of others) await c.close().catch(() => {});
    for (const child of children) if (child.exitCode === null) child.kill('SIGTERM');
    await Promise.all(children.map((c) => (c.exitCode === null ? new Promise((r) => c.once('exit', r)) : undefined)));
    await fleet?.stop();
  });

  it('lists the tools with schemas and annotations', async () => {
    const { tools } = await client.listTools();
    const byName = new Map(tools.map((t) => [t.name, t]));
    expect([...byName.keys()].sort()).toEqual(['agents_list', 'agents_peek', 'agents_send', 'cancel_run', 'history', 'hosts', 'place', 'push_apply', 'push_plan', 'run', 'run_output', 'run_status', 'workflow_run']);
    for (const name of ['hosts', 'run_status', 'run_output', 'history', 'push_plan', 'place', 'agents_list', 'agents_peek']) expect(byName.get(name)!.annotations?.readOnlyHint).toBe(true);
    for (const name of ['run', 'cancel_run', 'push_apply', 'agents_send']) expect(byName.get(name)!.annotations?.readOnlyHint).toBe(false);
    expect(byName.get('push_apply')!.annotations?.destructiveHint).toBe(true);
    expect(Object.keys(byName.get('run')!.inputSchema.properties!)).toEqual(['target', 'command', 'cwd', 'timeout_s', 'files', 'wait_s']);
    expect(byName.get('run')!.inputSchema.required).toEqual(['target', 'command']);
    expect(Object.keys(byName.get('run_output')!.inputSchema.properties!)).toEqual(expect.arrayContaining(['run_id', 'host', 'tail_lines', 'offset', 'max_bytes']));
  });

  it('hosts: the inventory, and layered health with status', async () => {
    const plain = await call(client, 'hosts', { target: 'lab-1,lab-2' });
    expect(plain.isError).toBe(false);
    expect(plain.data.hosts.map((h: { alias: string }) => h.alias)).toEqual(['lab-1', 'lab-2']);
    const status = await call(client, 'hosts', { target: 'lab-1,lab-2', status: true });
    expect(status.data.hosts.map((h: { state: string }) => h.state)).toEqual(['online', 'online']);
    expect(status.data.hosts[0].layers.ssh.ok).toBe(true);
  });

  it('run on two hosts: per-host state, exit code, output, recorded with origin mcp', async () => {
    const progress: Progress[] = [];
    const r = await call(client, 'run', { target: 'lab-1,lab-2', command: 'echo "out on $(hostname -I 2>/dev/null | cut -d" " -f1)"; echo err >&2' }, (p) => progress.push(p));
    expect(r.isError).toBe(false);
    expect(r.data.state).toBe('done');
    expect(r.data.exit_code).toBe(0);
    expect(r.data.hosts.map((h: { host: string; state: string }) => [h.host, h.state])).toEqual([['lab-1', 'ok'], ['lab-2', 'ok']]);
    expect(r.data.hosts[0].stdout).toMatch(/^out on /);
    expect(r.data.hosts[1].stderr).toBe('err\n');
    expect(progress.length).toBeGreaterThan(0);
    expect(progress[progress.length - 1]!.progress).toBe(4);
    const doc = await new RunStore(store).find(r.data.run_id);
    expect(doc.origin).toBe('mcp');
    expect(doc.hosts.map((h) => h.state)).toEqual(['ok', 'ok']);
    const status = await call(client, 'run_status', { run_id: r.data.run_id });
    expect(status.data.hosts.map((h: { stdout_bytes: number }) => h.stdout_bytes > 0)).toEqual([true, true]);
    const history = await call(client, 'history', { limit: 5 });
    expect(history.data.runs[0].run_id).toBe(r.data.run_id);
    expect(history.data.runs[0].origin).toBe('mcp');
  });

  it('a failing command is a result (failed, exit 3), not a tool error', async () => {
    const r = await call(client, 'run', { target: 'lab-1', command: 'echo nope >&2; exit 3' });
    expect(r.isError).toBe(false);
    expect(r.data.hosts[0]).toMatchObject({ state: 'failed', exit: 3, stderr: 'nope\n' });
    expect(r.data.exit_code).toBe(2);
  });

  it('a bad target is a tool error that says what to do; the server goes on', async () => {
    const r = await call(client, 'run', { target: 'no-such-host', command: 'true' });
    expect(r.isError).toBe(true);
    expect(r.data.error).toMatch(/no-such-host/);
    expect(r.data.hint).toMatch(/hosts/);
    const bad = await call(client, 'run', { target: 'lab-1', command: 'true', timeout_s: -1 });
    expect(bad.isError).toBe(true);
    expect(JSON.stringify(bad.data)).toMatch(/timeout_s/);
    const typo = await call(client, 'run', { target: 'lab-1', command: 'true', timeout: 5 });
    expect(typo.isError).toBe(true);
    expect(JSON.stringify(typo.data)).toMatch(/timeout/);
    expect((await call(client, 'hosts', { target: 'lab-1' })).isError).toBe(false);
  });

  it('an edit of the ssh config reaches the next call of a running server: a new alias is listed and usable', async () => {
    const config = join(fleet.dir, 'followed.ssh_config');
    const original = readFileSync(fleet.lab.info.sshConfig, 'utf8');
    writeFileSync(config, original);
    const followed = new Client({ name: 'flotilla-test', version: '1.0.0' });
    await followed.connect(new StdioClientTransport({
      command: process.execPath, args: [cli, '--ssh-config', config, '--groups', fleet.lab.info.groups, '--store', store, 'mcp'],
      env: { ...process.env, ...env } as Record<string, string>, stderr: 'ignore',
    }));
    others.push(followed);
    const before = await call(followed, 'run', { target: 'lab-again', command: 'true' });
    expect([before.isError, before.data.error]).toEqual([true, expect.stringMatching(/lab-again/)]);
    const lab1 = /^Host lab-1\n(?:[ \t]+.*\n)+/m.exec(original)![0];
    writeFileSync(config, `${lab1.replace('Host lab-1', 'Host lab-again')}\n${original}`);
    const hosts = await call(followed, 'hosts', {});
    expect(hosts.data.hosts.map((h: { alias: string }) => h.alias)).toContain('lab-again');
    const ran = await call(followed, 'run', { target: 'lab-again', command: 'echo via-$((40+2))' });
    expect([ran.isError, ran.data.hosts?.[0]?.state, ran.data.hosts?.[0]?.stdout]).toEqual([false, 'ok', 'via-42\n']);
  });

  it('a run past its timeout_s is a result with state timeout and the remote process stopped', async () => {
    const r = await call(client, 'run', { target: 'lab-1', command: 'sleep 30', timeout_s: 1 });
    expect(r.isError).toBe(false);
    expect(r.data.hosts[0]).toMatchObject({ state: 'timeout', remote_stopped: true });
    expect(r.data.exit_code).toBe(3);
  });

  it('place: the least-loaded host with the explanation, nothing run', async () => {
    await fleet.lab.setLoad('lab-1', 3.5);
    await fleet.lab.setLoad('lab-2', 0.1);
    const before = (await new RunStore(store).ids()).length;
    const r = await call(client, 'place', { target: 'lab-1,lab-2' });
    expect(r.data.chosen).toBe('lab-2');
    expect(r.data.explanation).toMatch(/lab-2/);
    expect(r.data.candidates.map((c: { host: string }) => c.host)).toEqual(['lab-1', 'lab-2']);
    expect((await new RunStore(store).ids()).length).toBe(before);
  });

  it('an unknown host key is refused, never accepted, and says why', async () => {
    const knownHosts = readFileSync(fleet.lab.info.knownHosts, 'utf8');
    const r = await call(client, 'run', { target: 'unknown-key', command: 'true' });
    expect(r.data.hosts[0].state).toBe('hostkey-rejected');
    expect(r.data.hosts[0].hint).toMatch(/never accept host keys/);
    expect(readFileSync(fleet.lab.info.knownHosts, 'utf8')).toBe(knownHosts);
  });

  it('400,000 lines: the answer is capped at 128 KiB and names run_output; the tail is read with it', async () => {
    const r = await call(client, 'run', { target: 'lab-1', command: 'seq 1 400000' });
    const h = r.data.hosts[0];
    expect(h.state).toBe('ok');
    expect(h.stdout_bytes).toBe(2_688_895);
    expect(Buffer.byteLength(h.stdout)).toBeLessThanOrEqual(128 * 1024);
    expect(Buffer.byteLength(h.stdout)).toBeGreaterThan(120 * 1024);
    expect(h.stdout.endsWith('399999\n400000\n')).toBe(true);
    expect(h.stdout_shown_from).toBe(2_688_895 - Buffer.byteLength(h.stdout));
    expect(r.data.output_capped).toMatch(new RegExp(`run_output \\{run_id: "${r.data.run_id}"`));
    const tail = await call(client, 'run_output', { run_id: r.data.run_id, host: 'lab-1', tail_lines: 3 });
    expect(tail.data).toMatchObject({ text: '399998\n399999\n400000\n', lines: 3, total_bytes: 2_688_895 });
    const head = await call(client, 'run_output', { run_id: r.data.run_id, host: 'lab-1', offset: 0, max_bytes: 10 });
    expect(head.data).toMatchObject({ text: '1\n2\n3\n4\n5\n', offset: 0, next_offset: 10, complete: false });
  });

  it('a long run returns its id while running; cancel_run stops the remote process', async () => {
    const marker = `sleep 3${Math.floor(Math.random() * 1000)}7`;
    const r = await call(client, 'run', { target: 'lab-2', command: marker, wait_s: 1 });
    expect(r.data.state).toBe('running');
    expect(r.data.next).toMatch(/cancel_run/);
    await waitUntil(() => pgrep(marker).length > 0, 10_000, 'the remote sleep to start');
    const c = await call(client, 'cancel_run', { run_id: r.data.run_id });
    expect(c.data.cancelled).toBe(true);
    expect(c.data.hosts[0]).toMatchObject({ state: 'cancelled', remote_stopped: true });
    await waitUntil(() => pgrep(marker).length === 0, 5000, 'the remote sleep to be gone');
  });

  it('push_plan writes nothing and returns a plan id; push_apply applies exactly it; a changed tree is refused', async () => {
    const local = join(fleet.dir, 'push-src');
    mkdirSync(join(local, 'sub'), { recursive: true });
    writeFileSync(join(local, 'a.txt'), 'alpha\n');
    writeFileSync(join(local, 'sub', 'b.txt'), 'beta\n');
    const plan = await call(client, 'push_plan', { target: 'lab-1', local, remote: '~/pushed' });
    expect(plan.isError).toBe(false);
    expect(plan.data.plan_id).toMatch(/^plan-/);
    expect(plan.data.hosts[0].plan.create.sort()).toEqual(['a.txt', 'sub', 'sub/b.txt']);
    expect(existsSync(join(homeOf('lab-1'), 'pushed'))).toBe(false);
    const applied = await call(client, 'push_apply', { plan_id: plan.data.plan_id });
    expect(applied.data.hosts[0]).toMatchObject({ host: 'lab-1', state: 'ok' });
    expect(readFileSync(join(homeOf('lab-1'), 'pushed', 'sub', 'b.txt'), 'utf8')).toBe('beta\n');
    expect((await call(client, 'push_apply', { plan_id: plan.data.plan_id })).isError).toBe(true);

    writeFileSync(join(local, 'a.txt'), 'alpha, changed\n');
    const again = await call(client, 'push_plan', { target: 'lab-1', local, remote: '~/pushed' });
    expect(again.data.hosts[0].plan.update).toEqual(['a.txt']);
    writeFileSync(join(local, 'c.txt'), 'new after the plan\n');
    const refused = await call(client, 'push_apply', { plan_id: again.data.plan_id });
    expect(refused.isError).toBe(true);
    expect(refused.data.error).toMatch(/changed since plan[\s\S]*c\.txt/);
    expect(readFileSync(join(homeOf('lab-1'), 'pushed', 'a.txt'), 'utf8')).toBe('alpha\n');
  });

  it('agents_send / agents_peek / agents_list on a scripted agent', async () => {
    const started = await call(client, 'run', { target: 'lab-1', command: 'tmux new-session -d -s mcpagent -x 120 -y 30 "$HOME/fake-agent.sh"' });
    expect(started.data.hosts[0].state).toBe('ok');
    try {
      let peek: Answer;
      const until = Date.now() + 10_000;
      do peek = await call(client, 'agents_peek', { target: 'lab-1:mcpagent' });
      while (!/proceed\? \(y\/n\)/.test(peek.data.text ?? '') && Date.now() < until);
      expect(peek.data.text).toMatch(/Do you want to proceed\? \(y\/n\)/);
      const list = await call(client, 'agents_list', { target: 'lab-1' });
      expect(list.data.hosts[0].panes.find((p: { target: string }) => p.target.startsWith('lab-1:mcpagent'))).toMatchObject({ attention: 'waiting' });
      const sent = await call(client, 'agents_send', { targets: ['lab-1:mcpagent'], text: 'y' });
      expect(sent.data.results).toEqual([{ target: 'lab-1:mcpagent', ok: true }]);
      const until2 = Date.now() + 10_000;
      do peek = await call(client, 'agents_peek', { target: 'lab-1:mcpagent', lines: 60 });
      while (!/All changes applied/.test(peek.data.text) && Date.now() < until2);
      expect(peek.data.text).toMatch(/applying change 14 of 14\s+All changes applied\./);
    } finally {
      await call(client, 'run', { target: 'lab-1', command: 'tmux kill-server' });
    }
  });

  it('workflow_run: the dry run contacts nothing; a confirm stage needs confirm_stages; the run stops at the failing stage', async () => {
    const file = join(fleet.dir, 'mcp-deploy.yaml');
    const marker = (alias: string) => join(homeOf(alias), 'mcp-wf-marker');
    writeFileSync(file, [
      'name: mcp-deploy',
      'stages:',
      '  - name: staging',
      '    hosts: lab-1',
      '    steps:',
      '      - run: "touch ~/mcp-wf-marker; exit 3"',
      '  - name: production',
      '    hosts: lab-2',
      '    confirm: true',
      '    steps:',
      '      - run: touch ~/mcp-wf-marker',
      '',
    ].join('\n'));
    const dry = await call(client, 'workflow_run', { file, dry_run: true });
    expect(dry.isError).toBe(false);
    expect(JSON.stringify(dry.data)).toContain('touch ~/mcp-wf-marker');
    expect([existsSync(marker('lab-1')), existsSync(marker('lab-2'))]).toEqual([false, false]);
    const refused = await call(client, 'workflow_run', { file });
    expect(refused.isError).toBe(true);
    expect(refused.data.error).toMatch(/stage "production" of workflow mcp-deploy asks for confirmation/);
    const ran = await call(client, 'workflow_run', { file, confirm_stages: true });
    expect(ran.isError).toBe(false);
    expect(ran.data).toMatchObject({ state: 'done', result: 'stopped', origin: 'mcp' });
    expect(ran.data.stages.map((st: { name: string; state: string }) => [st.name, st.state])).toEqual([['staging', 'failed'], ['production', expect.stringMatching(/^(pending|skipped)$/)]]);
    expect([existsSync(marker('lab-1')), existsSync(marker('lab-2'))]).toEqual([true, false]);
  });

  it('--read-only lists only the tools that change nothing and refuses the others', async () => {
    const ro = await stdioClient(['--read-only']);
    const names = (await ro.listTools()).tools.map((t) => t.name).sort();
    expect(names).toEqual(['agents_list', 'agents_peek', 'history', 'hosts', 'place', 'push_plan', 'run_output', 'run_status']);
    const r = await ro.callTool({ name: 'run', arguments: { target: 'lab-1', command: 'touch ~/ro-was-here' } }).then((x) => x, (e: Error) => ({ isError: true, content: [{ type: 'text', text: e.message }] }));
    expect(r.isError).toBe(true);
    expect(existsSync(join(homeOf('lab-1'), 'ro-was-here'))).toBe(false);
  });

  it('a long host list is cut to the output cap and says so', async () => {
    const small = await stdioClient(['--output-cap', '1']);
    const r = await call(small, 'hosts');
    expect(Buffer.byteLength(JSON.stringify(r.data.hosts))).toBeLessThanOrEqual(1024);
    expect(r.data.hosts.length).toBeGreaterThan(0);
    expect(r.data.more).toMatch(/^\d+ more hosts not listed .*narrow with target/);
  });

  it('allowlist and deny-list from flags and the config file', async () => {
    const config = join(fleet.dir, 'mcp.yaml');
    writeFileSync(config, 'allow: [lab-1]\ndeny: ["\\\\brm\\\\s+-rf\\\\b"]\n');
    const guarded = await stdioClient(['--config', config]);
    const outside = await call(guarded, 'run', { target: 'lab-2', command: 'true' });
    expect(outside.isError).toBe(true);
    expect(outside.data.error).toMatch(/"lab-2" is not in this server's allowlist/);
    const denied = await call(guarded, 'run', { target: 'lab-1', command: 'rm -rf ~/x' });
    expect(denied.isError).toBe(true);
    expect(denied.data.error).toMatch(/deny-list/);
    expect((await call(guarded, 'hosts')).data.hosts.map((h: { alias: string }) => h.alias)).toEqual(['lab-1']);
    expect((await call(guarded, 'run', { target: 'lab-1', command: 'true' })).data.hosts[0].state).toBe('ok');
  });

  it('every call leaves an audit line in the run store, without the command text', () => {
    const dir = join(store, 'mcp');
    const lines = readdirSync(dir).flatMap((f) => readFileSync(join(dir, f), 'utf8').trim().split('\n')).map((l) => JSON.parse(l));
    expect(lines.some((l) => l.tool === 'run' && l.origin === 'mcp' && l.run_id && l.ok)).toBe(true);
    expect(lines.some((l) => l.tool === 'push_apply' && l.plan_id)).toBe(true);
    expect(JSON.stringify(lines)).not.toMatch(/seq 1 400000/);
    expect(statSync(dir).mode & 0o077).toBe(0);
  });

  it('over Streamable HTTP: tools, a run on two hosts, Host/Origin checks', async () => {
    const { url } = await httpServer();
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/mcp$/);
    const c = new Client({ name: 'flotilla-http-test', version: '1.0.0' });
    await c.connect(new StreamableHTTPClientTransport(new URL(url)));
    others.push(c);
    expect((await c.listTools()).tools).toHaveLength(13);
    const progress: Progress[] = [];
    const r = await call(c, 'run', { target: 'lab-1,lab-2', command: 'echo via-http' }, (p) => progress.push(p));
    expect(r.data.hosts.map((h: { state: string; stdout: string }) => [h.state, h.stdout])).toEqual([['ok', 'via-http\n'], ['ok', 'via-http\n']]);
    expect(progress.length).toBeGreaterThan(0);
    const port = new URL(url).port;
    expect(await rawPost(url, { host: `evil.example.com:${port}` })).toBe(403);
    expect(await rawPost(url, { origin: 'http://evil.example.com' })).toBe(403);
    expect(await rawPost(url, { origin: 'null' })).toBe(403);
    expect(await rawPost(url, { origin: `http://localhost:${port}` })).toBe(200);
  });

  it('a token is required when configured; a non-loopback bind without one is refused', async () => {
    const { url } = await httpServer([], { FLOTILLA_MCP_TOKEN: 'sekrit-token-123' });
    expect(await rawPost(url, {})).toBe(401);
    expect(await rawPost(url, { authorization: 'Bearer wrong' })).toBe(401);
    expect(await rawPost(url, { authorization: 'Bearer sekrit-token-123' })).toBe(200);
    const c = new Client({ name: 't', version: '1' });
    await c.connect(new StreamableHTTPClientTransport(new URL(url), { requestInit: { headers: { authorization: 'Bearer sekrit-token-123' } } }));
    others.push(c);
    expect((await call(c, 'hosts', { target: 'lab-1' })).data.hosts).toHaveLength(1);

    const refused = await spawnCli(cli, [...base, 'mcp', '--http', '0.0.0.0:0'], { env });
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/not a loopback address, without a token/);
  });
});
