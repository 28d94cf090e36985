// Workflow files: parsing with file:line errors, schema validation, variables quoted into commands,
// batches and the dry-run plan. Pure; nothing is contacted.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { completeWorkflow, hoverWorkflow } from '../../src/core/workflows/completion';
import { parseWorkflow, WorkflowFileError } from '../../src/core/workflows/parse';
import { batchesOf, gateScript, planWorkflow, settleVars, type Plan } from '../../src/core/workflows/plan';
import { planText } from '../../src/core/workflows/report';
import { TEMPLATES, templateWorkflow } from '../../src/core/workflows/templates';
import { references, render, shellWord } from '../../src/core/workflows/vars';

const ISSUE_EXAMPLE = `name: deploy
vars: { app: ~/app }
stages:
  - name: staging
    hosts: staging                 # a host, a group, "all" or a list
    steps:
      - push: { from: ./dist, to: "{{ app }}" }
      - run: make -C {{ app }} test
  - name: production
    hosts: production
    serial: 1                      # hosts at a time (number or percentage)
    max_fail: 0                    # failed hosts tolerated before the stage stops
    confirm: true                  # the editor asks before this stage starts (the CLI needs --yes)
    steps:
      - push: { from: ./dist, to: "{{ app }}" }
      - run: systemctl --user restart app
      - gate: { run: "curl -fsS http://localhost:8080/health", retries: 10, interval: 2s, timeout: 60s }
    on_failure:                    # runs on the hosts of the failed batch
      - run: "{{ app }}/rollback.sh"
  - name: collect
    hosts: production
    steps:
      - pull: { from: /var/log/app, to: "./backups/{{ date }}/{{ host }}" }
`;

const GROUPS: Record<string, string[]> = { staging: ['s1'], production: ['p1', 'p2', 'p3'] };
const resolveHosts = (t: string) => t.split(',').flatMap((p) => GROUPS[p] ?? [p]);
const plan = (yaml: string, overrides?: Record<string, string>): Plan =>
  planWorkflow({ workflow: parseWorkflow(yaml, 'w.yaml'), overrides, resolveHosts, baseDir: '/ws', runId: '20261201T080000-abcdef', now: new Date('2026-12-01T08:00:00Z') });

function problems(yaml: string): string[] {
  try {
    parseWorkflow(yaml, 'w.yaml');
  } catch (err) {
    if (err instanceof WorkflowFileError) return err.message.split('\n');
    throw err;
  }
  throw new Error('expected problems');
}

describe('workflow files', () => {
  it('the issue\'s example parses into the plain model', () => {
    const w = parseWorkflow(ISSUE_EXAMPLE, 'deploy.yaml');
    expect(w.vars).toEqual({ app: '~/app' });
    expect(w.stages.map((s) => [s.name, s.hosts, s.serial, s.maxFail, s.confirm])).toEqual([
      ['staging', ['staging'], undefined, { count: 0 }, false],
      ['production', ['production'], { count: 1 }, { count: 0 }, true],
      ['collect', ['production'], undefined, { count: 0 }, false],
    ]);
    expect(w.stages[1]!.steps[2]).toMatchObject({ kind: 'gate', check: { run: 'curl -fsS http://localhost:8080/health' }, retries: 10, intervalMs: 2000, timeoutMs: 60_000, pos: { line: 17, col: 9 } });
    expect(w.stages[1]!.onFailure[0]).toMatchObject({ kind: 'run', command: '{{ app }}/rollback.sh' });
    // Plain data: it survives JSON (what an exporter reads).
    expect(JSON.parse(JSON.stringify(w))).toEqual(w);
  });

  it('names every schema problem with file:line:col', () => {
    const bad = ISSUE_EXAMPLE
      .replace('retries: 10', 'retries: ten')
      .replace('max_fail: 0 ', 'maxfail: 0  ')
      .replace('serial: 1 ', 'serial: 0 ')
      .replace('- run: systemctl --user restart app', '- rum: systemctl --user restart app');
    expect(problems(bad)).toEqual([
      'w.yaml:11:13: stages[1].serial is 0: Hosts at a time: a number (1 = one host at a time) or a percentage of the stage\'s hosts ("25%"). Default: all at once.',
      'w.yaml:12:5: unknown key "maxfail" in stages[1] (did you mean "max_fail"?); allowed: name, hosts, serial, max_fail, confirm, steps, on_failure',
      'w.yaml:16:9: unknown key "rum" in stages[1].steps[1] (did you mean "run"?); allowed: name, run, cwd, timeout, files, push, pull, gate, place',
      'w.yaml:17:73: stages[1].steps[2].gate.retries must be integer, not "ten"',
    ]);
  });

  it('a step does exactly one thing; modifiers belong to run', () => {
    const yaml = (step: string) => `name: x\nstages:\n  - name: s\n    hosts: h\n    steps:\n      - ${step}\n`;
    expect(problems(yaml('{ run: a, push: { from: a, to: b } }'))).toEqual(['w.yaml:6:9: stages[0].steps[0] has run and push: one step does one thing, split it into 2 steps']);
    expect(problems(yaml('{ name: nothing }'))).toEqual(['w.yaml:6:9: stages[0].steps[0] does nothing: a step needs one of run, push, pull, gate, place']);
    expect(problems(yaml('{ cwd: /tmp, push: { from: a, to: b } }'))).toEqual(['w.yaml:6:11: "cwd" belongs to a run step; this step has no run']);
    expect(problems(yaml('{ gate: { run: a, http: "http://x" } }'))).toEqual(['w.yaml:6:17: stages[0].steps[0].gate needs exactly one of run or http']);
    expect(problems(yaml('{ run: a, timeout: soon }'))).toEqual(['w.yaml:6:28: stages[0].steps[0].timeout is "soon": Seconds (90) or a duration: 500ms, 90s, 10m, 1h30m, 2d.']);
  });

  it('YAML syntax errors, duplicate keys and unknown variables are located; {{ }} gets a quoting hint', () => {
    expect(problems('name: x\nname: y\nstages: []\n')[0]).toBe('w.yaml:2:1: YAML: Map keys must be unique');
    const flow = problems('name: x\nstages:\n  - name: s\n    hosts: h\n    steps:\n      - pull: { from: /a, to: ./b/{{ host }} }\n');
    expect(flow).toHaveLength(1);
    expect(flow[0]).toMatch(/^w\.yaml:6:\d+: YAML: .*must be quoted when it starts with \{\{ or stands inside \{ \}/);
    expect(problems(ISSUE_EXAMPLE.replace('"{{ app }}/rollback.sh"', '"{{ App }}/rollback.sh"'))).toEqual([
      'w.yaml:19:14: {{ App }} is not defined (did you mean {{ app }}?): declare it under vars or params, or use one of host, date, time, run, workflow, stage',
    ]);
    expect(problems('name: x\nstages:\n  - name: s\n    hosts: "{{ host }}"\n    steps: [{ run: a }]\n')[0]).toMatch(/^w\.yaml:4:12: \{\{ host \}\} cannot be used in stages\[0\]\.hosts/);
    expect(problems('name: x\nstages:\n  - { name: a, hosts: h, steps: [{ run: a }] }\n  - { name: a, hosts: h, steps: [{ run: b }] }\n')[0]).toMatch(/^w\.yaml:4:13: two stages are named "a"/);
    expect(problems('name: x\nstages:\n  - { name: a, hosts: h, steps: [{ run: a }, { place: least-loaded }] }\n')[0]).toMatch(/^w\.yaml:3:46: place must be the first step/);
    expect(problems('')).toEqual(['w.yaml:1:1: the file is empty: a workflow needs name and stages']);
  });

  it('the schema file the extension registers is the one the core validates with', () => {
    const pkg = JSON.parse(readFileSync(join(__dirname, '../../package.json'), 'utf8'));
    const registered = pkg.contributes.yamlValidation.map((v: { url: string }) => v.url);
    expect(registered).toEqual(['./schemas/workflow.schema.json']);
    expect(pkg.contributes.yamlValidation[0].fileMatch).toContain('.flotilla/workflows/*.yaml');
  });
});

describe('variables', () => {
  it('become one shell word in commands; ~/ stays the remote home', () => {
    expect(references('a {{ x }} {{y}} {{ x }}')).toEqual(['x', 'y']);
    expect(() => references('{{ a b }}')).toThrow(/not a variable reference/);
    expect(shellWord('~/my app')).toBe(`"$HOME"/'my app'`);
    expect(shellWord('~')).toBe('"$HOME"');
    expect(shellWord("it's; rm -rf /")).toBe(`'it'\\''s; rm -rf /'`);
    expect(render('ls {{ d }}/x', { d: '~/a b' }, 'shell')).toBe(`ls "$HOME"/'a b'/x`);
    expect(render('{{ d }}/x', { d: '~/a b' }, 'plain')).toBe('~/a b/x');
    // What /bin/sh makes of it: exactly the value, whatever it holds.
    const hostile = `$(touch /tmp/pwned) "quoted" 'single' \`tick\` ; & |`;
    expect(execFileSync('sh', ['-c', render('printf %s {{ v }}', { v: hostile }, 'shell')], { encoding: 'utf8' })).toBe(hostile);
  });

  it('--var must name a declared var or param; a param without default is required', () => {
    const w = templateWorkflow('rolling-restart');
    expect(() => settleVars(w, {})).toThrow(/needs --var hosts=… \(host or group whose service is restarted\), --var service=…/);
    expect(() => settleVars(w, { hosts: 'a', service: 'b', servcie: 'c' })).toThrow(/has no var or param "servcie"/);
    expect(settleVars(w, { hosts: 'a', service: 'b' })).toEqual({ hosts: 'a', service: 'b' });
  });
});

describe('planning', () => {
  it('serial batches by count and by percentage', () => {
    const hosts = ['a', 'b', 'c', 'd', 'e'];
    expect(batchesOf(hosts, undefined)).toEqual([hosts]);
    expect(batchesOf(hosts, { count: 2 })).toEqual([['a', 'b'], ['c', 'd'], ['e']]);
    expect(batchesOf(hosts, { percent: 40 })).toEqual([['a', 'b'], ['c', 'd'], ['e']]);
    expect(batchesOf(hosts, { percent: 10 })).toEqual([['a'], ['b'], ['c'], ['d'], ['e']]);
  });

  it('renders every step per host: commands quoted, local paths from the base dir, {{ host }} and {{ date }}', () => {
    const p = plan(ISSUE_EXAMPLE);
    expect(p.stages.map((s) => s.batches)).toEqual([[['s1']], [['p1'], ['p2'], ['p3']], [['p1', 'p2', 'p3']]]);
    expect(p.stages[0]!.steps[0]!.actions.s1).toEqual({ kind: 'push', from: '/ws/dist', to: '~/app', delete: false, exclude: [] });
    expect(p.stages[0]!.steps[1]!.actions.s1).toMatchObject({ kind: 'run', script: 'make -C "$HOME"/app test' });
    expect(p.stages[1]!.onFailure[0]!.actions.p2).toMatchObject({ script: '"$HOME"/app/rollback.sh' });
    expect(p.stages[2]!.steps[0]!.actions.p3).toEqual({ kind: 'pull', from: '/var/log/app', to: '/ws/backups/2026-12-01/p3' });
    const text = planText(p);
    expect(text).toContain('stage 2/3 production: 3 host(s), 3 batches of up to 1, stops when more than 0 fail, asks for confirmation first');
    expect(text).toContain('  batch 3: p3\n');
    expect(text).toContain('/ws/backups/2026-12-01/p2');
  });

  it('a pull that would put two hosts\' copies in one place is refused before anything runs', () => {
    expect(() => plan(ISSUE_EXAMPLE.replace('./backups/{{ date }}/{{ host }}', './backups/{{ date }}'))).toThrow(/copies of p1 and p2 to the same \/ws\/backups\/2026-12-01: put \{\{ host \}\} in "to"/);
  });

  it('the gate script retries the check on the host', () => {
    const script = gateScript('test -e "$1"', { retries: 2, intervalMs: 10 });
    const out = (arg: string) => {
      try {
        return { code: 0, err: execFileSync('sh', ['-c', script, 'sh', arg], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }) };
      } catch (e) {
        return { code: (e as { status: number }).status, err: String((e as { stderr: Buffer }).stderr) };
      }
    };
    expect(out('/')).toEqual({ code: 0, err: '' });
    expect(out('/nonexistent-flotilla')).toEqual({ code: 1, err: 'gate failed after 3 attempt(s)\n' });
  });

  it('every built-in workflow parses and plans with its params', () => {
    const needed: Record<string, Record<string, string>> = {
      deploy: {},
      'rolling-restart': { hosts: 'production', service: 'app' },
      backup: { hosts: 'production', path: '/etc' },
      sync: { source: 's1', targets: 'production', path: '~/data' },
      'health-check': { hosts: 'production', url: 'http://localhost:8080/health' },
    };
    expect(Object.keys(TEMPLATES).sort()).toEqual(Object.keys(needed).sort());
    for (const [name, vars] of Object.entries(needed)) {
      const p = planWorkflow({ workflow: templateWorkflow(name), overrides: vars, resolveHosts, baseDir: '/ws', runId: '20261201T080000-abcdef' });
      expect(p.stages.length).toBeGreaterThan(0);
    }
    expect(() => planWorkflow({ workflow: templateWorkflow('health-check'), overrides: { hosts: 'p1', url: 'ftp://x' }, resolveHosts, baseDir: '/ws', runId: 'x' }))
      .toThrow(/"ftp:\/\/x" is not an http/);
  });
});

describe('completion from the schema', () => {
  it('offers a stage\'s keys and a step\'s actions, with the schema\'s descriptions', async () => {
    const stage = await completeWorkflow('name: x\nstages:\n  - name: s\n    hosts: h\n    ', 4, 4);
    expect(stage.map((i) => i.label)).toEqual(expect.arrayContaining(['serial', 'max_fail', 'confirm', 'steps', 'on_failure']));
    expect(stage.map((i) => i.label)).not.toContain('hosts');
    const step = await completeWorkflow('name: x\nstages:\n  - name: s\n    hosts: h\n    steps:\n      - ', 5, 8);
    expect(step.map((i) => i.label)).toEqual(expect.arrayContaining(['run', 'push', 'pull', 'gate', 'place']));
    expect(await hoverWorkflow('name: x\nstages:\n  - name: s\n    serial: 1\n', 3, 6)).toContain('Hosts at a time');
  });
});
