// Workflows against a real sshd fleet (isolated homes, so each host's files are its own): stop on failure,
// serial batches, max_fail, gates with retries, on_failure on the failed batch, cancel, dry run, backup
// into dated per-host folders, and the CLI verbs. No mocks; every marker is a real file on a host.
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expandTargets, loadInventory, type Inventory } from '../../src/core/config/inventory';
import { newRunId } from '../../src/core/exec/run';
import { RunStore } from '../../src/core/jobs/store';
import type { Pool } from '../../src/core/ssh/pool';
import type { Workflow } from '../../src/core/workflows/model';
import { parseWorkflow } from '../../src/core/workflows/parse';
import { planWorkflow } from '../../src/core/workflows/plan';
import { WorkflowStore, type WorkflowDoc } from '../../src/core/workflows/record';
import { startWorkflow, type WorkflowEvent, type WorkflowOptions } from '../../src/core/workflows/runner';
import { templateWorkflow } from '../../src/core/workflows/templates';
import { cliInProcess } from './cliInProcess';
import { rollingDeploy, stagedDeploy } from './fixtures/stagedWorkflows';
import { pgrep, startFleet, waitUntil, type TestFleet } from './fleet';

const canRunLab = process.getuid?.() === 0;

describe.skipIf(!canRunLab)('workflows on the lab fleet', () => {
  let fleet: TestFleet;
  let pool: Pool;
  let inventory: Inventory;
  let store: RunStore;
  let storeRoot: string;

  beforeAll(async () => {
    fleet = await startFleet({ hosts: 3, plain: true });
    pool = fleet.pool();
    inventory = await loadInventory({ sshConfigFile: fleet.lab.info.sshConfig, groupsFile: fleet.lab.info.groups });
    storeRoot = join(fleet.dir, 'store');
    store = new RunStore(storeRoot);
  });
  afterAll(async () => {
    await fleet?.stop();
  });

  /** `~flotilla/<rel>` of a host, as seen from this machine. */
  const home = (alias: string, rel: string) => join(fleet.lab.info.hosts.find((h) => h.alias === alias)!.isolatedHome!, 'flotilla', rel);
  const tagged = () => `t${randomBytes(3).toString('hex')}`;

  async function run(yaml: string | Workflow, opts: Partial<WorkflowOptions> & { vars?: Record<string, string> } = {}): Promise<{ doc: WorkflowDoc; events: WorkflowEvent[] }> {
    const plan = planWorkflow({
      workflow: typeof yaml === 'string' ? parseWorkflow(yaml, 'test.yaml') : yaml, overrides: opts.vars,
      resolveHosts: (t) => expandTargets(t, inventory), baseDir: fleet.dir, runId: newRunId(),
    });
    const events: WorkflowEvent[] = [];
    const wf = await startWorkflow({ store, pool, connectTimeoutMs: 3000 }, plan, {
      origin: 'test', ...opts, on: (e) => { events.push(e); opts.on?.(e); },
    });
    return { doc: await wf.done, events };
  }
  const hostStates = (doc: WorkflowDoc, stage: number) => Object.fromEntries(doc.stages[stage]!.hosts.map((h) => [h.host, h.state]));

  it('a staged deploy whose staging test fails never touches production; each step is a recorded run', async () => {
    const t = tagged();
    const dist = join(fleet.dir, `${t}-dist`);
    mkdirSync(dist);
    writeFileSync(join(dist, 'app.txt'), 'v2\n');
    const { doc } = await run(stagedDeploy(t));
    expect(readFileSync(home('lab-1', `${t} app/app.txt`), 'utf8')).toBe('v2\n');
    expect(doc.result).toBe('stopped');
    expect(doc.stages.map((s) => s.state)).toEqual(['failed', 'skipped']);
    expect(hostStates(doc, 0)).toEqual({ 'lab-1': 'failed' });
    expect(hostStates(doc, 1)).toEqual({ 'lab-2': 'skipped', 'lab-3': 'skipped' });
    expect(existsSync(home('lab-2', `${t}-production`)) || existsSync(home('lab-3', `${t}-production`))).toBe(false);
    expect(doc.steps.map((s) => [s.kind, s.state])).toEqual([['push', 'ok'], ['run', 'failed']]);
    // The run step is a recorded run in the shared store, with the vars quoted into one word.
    const stepRun = await store.find(doc.steps[1]!.runIds[0]!);
    expect(stepRun.origin).toBe('workflow');
    expect(stepRun.hosts[0]).toMatchObject({ host: 'lab-1', state: 'failed', exit: 3 });
    expect(readFileSync(store.outputFiles(stepRun.id, 'lab-1').stdout, 'utf8')).toBe(`tested /home/flotilla/${t} app\n`);
    // …and the workflow record is beside the run store.
    expect((await new WorkflowStore(storeRoot).find(doc.id)).result).toBe('stopped');
  });

  it('serial: 1 whose gate fails on the 2nd host stops there, rolls that host back, never touches the 3rd', async () => {
    const t = tagged();
    writeFileSync(home('lab-2', `${t}-broken`), '');
    const { doc, events } = await run(rollingDeploy(t));
    expect(doc.result).toBe('stopped');
    expect(hostStates(doc, 0)).toEqual({ 'lab-1': 'done', 'lab-2': 'rolled-back', 'lab-3': 'skipped' });
    expect(doc.stages[0]!.hosts.find((h) => h.host === 'lab-2')!.reason).toMatch(/exit 1/);
    expect(existsSync(home('lab-1', `${t}-deployed`))).toBe(true);
    expect(existsSync(home('lab-2', `${t}-deployed`))).toBe(true);
    expect(existsSync(home('lab-3', `${t}-deployed`))).toBe(false);
    expect(existsSync(home('lab-2', `${t}-rolled-back`))).toBe(true);
    expect(existsSync(home('lab-1', `${t}-rolled-back`))).toBe(false);
    expect(events.filter((e) => e.type === 'batch').map((e) => (e as { hosts: string[] }).hosts)).toEqual([['lab-1'], ['lab-2']]);
    const rollback = doc.steps.find((s) => s.phase === 'on_failure')!;
    expect(Object.keys(rollback.hosts)).toEqual(['lab-2']);
  });

  it('max_fail: 1 lets one failure through; the stage and the workflow go on', async () => {
    const t = tagged();
    writeFileSync(home('lab-2', `${t}-broken`), '');
    const { doc } = await run(`
name: tolerant
stages:
  - name: roll
    hosts: [lab-1, lab-2, lab-3]
    serial: 1
    max_fail: 1
    steps:
      - run: "[ ! -e ~/${t}-broken ] && touch ~/${t}-deployed"
    on_failure:
      - run: touch ~/${t}-rolled-back
  - name: after
    hosts: [lab-1, lab-2, lab-3]
    steps:
      - run: touch ~/${t}-after
`);
    expect(doc.result).toBe('completed');
    expect(hostStates(doc, 0)).toEqual({ 'lab-1': 'done', 'lab-2': 'failed', 'lab-3': 'done' });
    // A host that failed an earlier stage is left out of later ones.
    expect(hostStates(doc, 1)).toEqual({ 'lab-1': 'done', 'lab-2': 'skipped', 'lab-3': 'done' });
    expect(existsSync(home('lab-3', `${t}-deployed`))).toBe(true);
    expect(existsSync(home('lab-2', `${t}-rolled-back`))).toBe(false);
    expect(existsSync(home('lab-2', `${t}-after`))).toBe(false);
  });

  it('a gate that passes on its 4th attempt passes; with fewer retries it fails', async () => {
    const t = tagged();
    const gate = (retries: number) => `
name: gate
stages:
  - name: check
    hosts: lab-1
    steps:
      - gate: { run: "n=$(cat ~/${t}-n-${retries} 2>/dev/null || echo 0); n=$((n+1)); echo $n > ~/${t}-n-${retries}; [ $n -ge 4 ]", retries: ${retries}, interval: 100ms, timeout: 20s }
`;
    const passed = (await run(gate(5))).doc;
    expect(passed.result).toBe('completed');
    expect(readFileSync(home('lab-1', `${t}-n-5`), 'utf8').trim()).toBe('4');
    expect(readFileSync(store.outputFiles(passed.steps[0]!.runIds[0]!, 'lab-1').stderr, 'utf8')).toContain('gate passed on attempt 4');
    const failed = (await run(gate(2))).doc;
    expect(failed.result).toBe('stopped');
    expect(readFileSync(home('lab-1', `${t}-n-2`), 'utf8').trim()).toBe('3');
    expect(readFileSync(store.outputFiles(failed.steps[0]!.runIds[0]!, 'lab-1').stderr, 'utf8')).toContain('gate failed after 3 attempt(s)');
  });

  it('cancel mid-stage stops the remote step on every host and starts nothing else', async () => {
    const t = tagged();
    const pending = run(`
name: long
stages:
  - name: one
    hosts: [lab-1, lab-2, lab-3]
    steps:
      - run: sleep 37.25; touch ~/${t}-slept
      - run: touch ~/${t}-next
    on_failure:
      - run: touch ~/${t}-rolled-back
  - name: two
    hosts: lab-1
    steps:
      - run: touch ~/${t}-two
`);
    await waitUntil(() => pgrep('sleep 37.25').length === 3, 15_000, 'the sleep on all three hosts');
    // Cancel from another process's side: a request in the workflow's record directory.
    const wstore = new WorkflowStore(storeRoot);
    const [running] = (await wstore.list()).filter((d) => d.state === 'running');
    await wstore.requestCancel(running!.id);
    const { doc } = await pending;
    expect(doc.result).toBe('cancelled');
    expect(pgrep('sleep 37.25')).toEqual([]);
    expect(doc.steps).toHaveLength(1);
    expect(doc.steps[0]!.state).toBe('cancelled');
    expect(hostStates(doc, 0)).toEqual({ 'lab-1': 'cancelled', 'lab-2': 'cancelled', 'lab-3': 'cancelled' });
    expect(doc.stages[1]!.state).toBe('skipped');
    for (const h of ['lab-1', 'lab-2', 'lab-3']) {
      for (const f of ['slept', 'next', 'rolled-back', 'two']) expect(existsSync(home(h, `${t}-${f}`))).toBe(false);
    }
  });

  it('place runs the stage on the least-loaded host only; an http gate is fetched from the host itself', async () => {
    const t = tagged();
    const server = createServer((req, res) => { res.statusCode = req.url === '/health' ? 200 : 503; res.end(); });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as AddressInfo).port;
    await fleet.lab.setLoad('lab-1', 3.5);
    await fleet.lab.setLoad('lab-2', 0.05);
    await fleet.lab.setLoad('lab-3', 2.5);
    try {
      const { doc } = await run(`
name: placed
stages:
  - name: build
    hosts: [lab-1, lab-2, lab-3]
    steps:
      - place: least-loaded
      - run: touch ~/${t}-built
      - gate: { http: "http://127.0.0.1:${port}/health", retries: 0 }
  - name: broken
    hosts: lab-1
    steps:
      - gate: { http: "http://127.0.0.1:${port}/down", retries: 1, interval: 100ms }
`);
      expect(doc.stages[0]!.placed).toBe('lab-2');
      expect(hostStates(doc, 0)).toEqual({ 'lab-1': 'skipped', 'lab-2': 'done', 'lab-3': 'skipped' });
      expect(['lab-1', 'lab-2', 'lab-3'].filter((h) => existsSync(home(h, `${t}-built`)))).toEqual(['lab-2']);
      const placeRun = await store.find(doc.steps[0]!.runIds[0]!);
      expect(placeRun.kind).toBe('least-loaded');
      expect(placeRun.placement?.chosen).toBe('lab-2');
      expect(hostStates(doc, 1)).toEqual({ 'lab-1': 'failed' });
      expect(doc.result).toBe('stopped');
    } finally {
      server.close();
      for (const h of ['lab-1', 'lab-2', 'lab-3']) await fleet.lab.setLoad(h, 0.1);
    }
  });

  it('sync (built-in) copies a folder from one host to a group through a local copy', async () => {
    const t = tagged();
    mkdirSync(home('lab-1', `${t}-data/sub`), { recursive: true });
    writeFileSync(home('lab-1', `${t}-data/sub/f.txt`), 'from lab-1\n');
    const { doc } = await run(templateWorkflow('sync'), { vars: { source: 'lab-1', targets: 'lab-2,lab-3', path: `~/${t}-data` } });
    expect(doc.result).toBe('completed');
    for (const h of ['lab-2', 'lab-3']) expect(readFileSync(home(h, `${t}-data/sub/f.txt`), 'utf8')).toBe('from lab-1\n');
    expect(readFileSync(join(fleet.dir, '.flotilla/sync', doc.id, 'sub/f.txt'), 'utf8')).toBe('from lab-1\n');
  });

  it('run steps take cwd, files (a private temp dir) and timeout', async () => {
    const t = tagged();
    mkdirSync(home('lab-1', `${t}-wd`));
    const local = join(fleet.dir, `${t}-input.txt`);
    writeFileSync(local, 'input\n');
    const { doc } = await run(`
name: run-options
stages:
  - name: s
    hosts: lab-1
    steps:
      - run: pwd > ~/${t}-cwd
        cwd: ~/${t}-wd
      - run: cat ${t}-input.txt > ~/${t}-copied
        files: [./${t}-input.txt]
      - run: sleep 7.75
        timeout: 500ms
`);
    expect(readFileSync(home('lab-1', `${t}-cwd`), 'utf8')).toBe(`/home/flotilla/${t}-wd\n`);
    expect(readFileSync(home('lab-1', `${t}-copied`), 'utf8')).toBe('input\n');
    expect(doc.steps.map((s) => Object.values(s.hosts)[0]!.state)).toEqual(['ok', 'ok', 'timeout']);
    expect(hostStates(doc, 0)).toEqual({ 'lab-1': 'failed' });
    expect(pgrep('sleep 7.75')).toEqual([]);
  });

  it('a confirm stage that is declined never starts', async () => {
    const t = tagged();
    const asked: string[] = [];
    const { doc } = await run(`
name: careful
stages:
  - name: prod
    hosts: lab-1
    confirm: true
    steps:
      - run: touch ~/${t}-prod
`, { confirm: async (s) => { asked.push(s.name); return false; } });
    expect(asked).toEqual(['prod']);
    expect(doc.result).toBe('declined');
    expect(hostStates(doc, 0)).toEqual({ 'lab-1': 'skipped' });
    expect(existsSync(home('lab-1', `${t}-prod`))).toBe(false);
  });

  const cli = (...args: string[]) => cliInProcess(['--ssh-config', fleet.lab.info.sshConfig, '--groups', fleet.lab.info.groups, '--store', storeRoot, ...args]);

  it('CLI: backup (built-in) lands in per-host dated folders; a second run the same day overwrites nothing', async () => {
    const t = tagged();
    for (const h of ['lab-1', 'lab-2']) {
      mkdirSync(home(h, `${t}-data/sub`), { recursive: true });
      writeFileSync(home(h, `${t}-data/sub/f.txt`), `from ${h}\n`);
    }
    const to = join(fleet.dir, `${t}-backups`);
    const args = ['workflow', 'run', 'builtin:backup', '--var', 'hosts=lab-1,lab-2', '--var', `path=~/${t}-data`, '--var', `to=${to}`];
    const first = await cli(...args);
    expect(first.code, first.stderr).toBe(0);
    const date = new Date().toISOString().slice(0, 10);
    expect(readdirSync(to)).toEqual([date]);
    expect(readdirSync(join(to, date)).sort()).toEqual(['lab-1', 'lab-2']);
    for (const h of ['lab-1', 'lab-2']) expect(readFileSync(join(to, date, h, 'sub/f.txt'), 'utf8')).toBe(`from ${h}\n`);
    writeFileSync(home('lab-1', `${t}-data/sub/f.txt`), 'changed\n');
    const second = await cli(...args);
    expect(second.code).toBe(2);
    expect(second.stdout).toMatch(/already exists; nothing was overwritten/);
    expect(readFileSync(join(to, date, 'lab-1', 'sub/f.txt'), 'utf8')).toBe('from lab-1\n');
  });

  it('CLI: --dry-run prints every host\'s exact commands and writes nothing; a confirm stage needs --yes', async () => {
    const t = tagged();
    const dir = join(fleet.dir, `${t}-ws`);
    mkdirSync(join(dir, 'dist'), { recursive: true });
    writeFileSync(join(dir, 'dist', 'a.txt'), 'a');
    const file = join(dir, 'deploy.yaml');
    writeFileSync(file, `
name: deploy
vars: { app: "~/${t} app" }
stages:
  - name: prod
    hosts: web
    serial: 1
    confirm: true
    steps:
      - push: { from: ${join(dir, 'dist')}, to: "{{ app }}" }
      - run: echo {{ host }} && test -f {{ app }}/a.txt
      - pull: { from: /etc/hostname, to: "${dir}/out/{{ host }}" }
`);
    const before = readdirSync(storeRoot, { recursive: true }).length;
    const dry = await cli('workflow', 'run', file, '--dry-run');
    expect(dry.code, dry.stderr).toBe(0);
    const web = expandTargets('web', inventory);
    for (const [i, h] of web.entries()) {
      expect(dry.stdout).toContain(`batch ${i + 1}: ${h}\n`);
      expect(dry.stdout).toContain(`echo ${h} && test -f "$HOME"/'${t} app'/a.txt`);
    }
    expect(dry.stdout).toContain('(1 file(s), 1 bytes');
    expect(readdirSync(storeRoot, { recursive: true }).length).toBe(before);
    expect(existsSync(join(dir, 'out'))).toBe(false);
    expect(web.some((h) => existsSync(home(h, `${t} app`)))).toBe(false);

    const refused = await cli('--json', 'workflow', 'run', file);
    expect(refused.code).toBe(1);
    expect(JSON.parse(refused.stdout).error.code).toBe('confirm-needed');
    expect(readdirSync(storeRoot, { recursive: true }).length).toBe(before);

    const ran = await cli('--json', 'workflow', 'run', file, '--yes');
    expect(ran.code, ran.stderr).toBe(0);
    const doc = JSON.parse(ran.stdout) as WorkflowDoc;
    expect(doc.result).toBe('completed');
    expect(doc.stages[0]!.hosts.every((h) => h.state === 'done')).toBe(true);
    for (const h of web) expect(readFileSync(join(dir, 'out', h), 'utf8')).toBe(readFileSync('/etc/hostname', 'utf8'));
    const status = await cli('workflow', 'status', doc.id);
    expect(status.stdout).toContain(`workflow deploy ${doc.id}: completed`);
  });

  it('CLI: a schema error points to file:line and nothing runs', async () => {
    const file = join(fleet.dir, 'bad.yaml');
    writeFileSync(file, 'name: bad\nstages:\n  - name: s\n    hosts: lab-1\n    steps:\n      - gate: { run: "true", retries: many }\n');
    const r = await cli('workflow', 'run', file);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`${file}:6:39: stages[0].steps[0].gate.retries must be integer, not "many"`);
  });
});
