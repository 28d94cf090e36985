// The playbook export's mapping (src/core/ansible/playbook.ts): stages → plays, steps → tasks, Flotilla's
// failure policy, values rendered as the runner renders them and kept from Ansible's templating (checked
// with Ansible's own templar when it is installed), and an error naming every step that does not map.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { exportWorkflowToAnsible, inventoryBeside, PlaybookExportError, workflowPlaybook } from '../../src/core/ansible/playbook';
import { parseWorkflow } from '../../src/core/workflows/parse';
import { planWorkflow } from '../../src/core/workflows/plan';
import { VarError } from '../../src/core/workflows/vars';

const groups: Record<string, string[]> = { web: ['w1', 'w2', 'w3', 'w4'], db: ['d1'] };
const resolveHosts = (target: string) => target.split(',').flatMap((t) => groups[t] ?? [t]);
type Play = { name: string; hosts: string; serial?: number; tasks: Record<string, any>[] };

const WORKFLOW = `
name: deploy
vars: { app: "~/my app", url: "http://localhost:8080/health" }
params:
  tag: { description: release tag }
stages:
  - name: staging
    hosts: db
    steps:
      - push: { from: ./dist, to: "{{ app }}", delete: true, exclude: ["*.log", "a b"] }
      - run: make test TAG={{ tag }} HOST={{ host }}; echo "\${#x}" '{% raw'
        cwd: src/{{ tag }}
        timeout: 90s
  - name: production
    hosts: web
    serial: 2
    max_fail: 50%
    confirm: true
    steps:
      - gate: { http: "{{ url }}", retries: 3, interval: 1500ms, timeout: 20s }
      - pull: { from: /var/log/app.log, to: "backups/{{ date }}/{{ host }}.log" }
    on_failure:
      - name: roll back
        run: ./rollback.sh
        cwd: "{{ app }}"
`;

function playbook(text = WORKFLOW, vars: Record<string, string> = { tag: 'v1.2' }) {
  const workflow = parseWorkflow(text, '/ws/deploy.yaml');
  const pb = workflowPlaybook({ workflow, overrides: vars, resolveHosts, baseDir: '/ws' });
  return { pb, plays: parse(pb.text, { version: '1.1' }) as Play[], workflow };
}
const block = (play: Play) => play.tasks[0]!.block as Record<string, any>[];

describe('workflow → Ansible playbook', () => {
  it('stages become plays on the same hosts in the same batches; a failed host is left out of later stages', () => {
    const { pb, plays } = playbook();
    expect(pb.hosts).toEqual(['d1', 'w1', 'w2', 'w3', 'w4']);
    expect(plays.map((p) => p.name)).toEqual([
      expect.stringContaining('the run\'s start'), 'stage 1/2 staging', 'stage 2/2 production: confirm', 'stage 2/2 production',
      'the hosts that failed a stage that let failures through',
    ]);
    const [, staging, confirm, production] = plays as [Play, Play, Play, Play];
    expect(staging.hosts).toBe('d1,!flotilla_failed');
    expect(staging.serial).toBeUndefined();
    expect(production.hosts).toBe('w1,w2,w3,w4,!flotilla_failed');
    expect(production.serial).toBe(2);
    // confirm: asked on the controller; anything but yes stops the playbook.
    expect(confirm.hosts).toBe('localhost');
    expect(confirm.tasks[0]!['ansible.builtin.pause'].prompt).toBe('Start stage production on 4 host(s) (w1, w2, w3, w4)? [y/N]');
    expect(confirm.tasks[1]).toMatchObject({ 'ansible.builtin.fail': { msg: 'stage production was not confirmed' } });
    // A failed step is rescued into the failed group; past max_fail (50% of 4 = 2) on_failure runs, then the playbook stops.
    expect(production.tasks[0]!.rescue[0]).toMatchObject({ 'ansible.builtin.group_by': { key: 'flotilla_failed' } });
    const stops = "(groups['flotilla_failed'] | default([]) | intersect(ansible_play_hosts_all) | union(ansible_play_hosts_all | difference(ansible_play_hosts)) | length) > 2";
    expect(production.tasks[1]).toMatchObject({ when: stops, block: [{ name: 'run: roll back', 'ansible.builtin.shell': { cmd: './rollback.sh', chdir: '~/my app' } }] });
    expect(production.tasks[2]).toMatchObject({ when: stops, any_errors_fatal: true, 'ansible.builtin.fail': { msg: expect.stringContaining('failed (max_fail 2); the workflow stops') } });
    expect(staging.tasks).toHaveLength(2);
    expect(staging.tasks[1]!.when).toMatch(/ > 0$/);
    // Failures production let through still fail their hosts at the end, so ansible-playbook exits 2 as a run does.
    expect(plays.at(-1)).toMatchObject({ hosts: 'flotilla_failed', tasks: [{ 'ansible.builtin.fail': { msg: 'failed in stage {{ flotilla_failed_stage }}' } }] });
    expect(production.tasks[0]!.rescue[1]).toMatchObject({ 'ansible.builtin.set_fact': { flotilla_failed_stage: 'production' } });
  });

  it('run → shell with chdir and timeout; values are one shell word, as the runner renders them', () => {
    const [, staging] = playbook().plays as [Play, Play];
    const run = block(staging)[2]!;
    expect(run['ansible.builtin.shell']).toEqual({
      cmd: `make test TAG=v1.2 HOST={{ (inventory_hostname) | quote }}{% raw %}; echo "\${#x}" '{% raw'{% endraw %}`,
      chdir: '~/src/v1.2',
    });
    expect(run.timeout).toBe(90);
  });

  it('push → the folder, then synchronize of its contents (delete, ignore files, excludes), with ssh as the inventory says', () => {
    const [, staging] = playbook().plays as [Play, Play];
    const [dir, sync] = block(staging) as [Record<string, any>, Record<string, any>];
    expect(dir['ansible.builtin.file']).toEqual({ path: '~/my app', state: 'directory' });
    expect(sync['ansible.posix.synchronize']).toEqual({
      src: '/ws/dist/', dest: '~/my app/', use_ssh_args: true, verify_host: true, delete: true,
      rsync_opts: ["'--filter=:- .gitignore'", "'--filter=:- .flotillaignore'", "'--exclude=*.log'", "'--exclude=a b'"],
    });
  });

  it('gate → until/retries/delay; pull → synchronize pull that never overwrites; {{ date }} is the playbook\'s start', () => {
    const { plays } = playbook();
    const [start, , , production] = plays as [Play, Play, Play, Play];
    expect(start.tasks[0]!['ansible.builtin.set_fact']).toEqual({ flotilla_start: "{{ now(utc=true, fmt='%Y-%m-%dT%H%M%S') }}" });
    const [gate, ...pull] = block(production) as Record<string, any>[];
    expect(gate).toMatchObject({ register: 'flotilla_gate', until: 'flotilla_gate.rc == 0', retries: 3, delay: 2, timeout: 20 });
    expect(gate!['ansible.builtin.shell'].cmd).toContain('curl -fsS -o /dev/null --max-time 10 http://localhost:8080/health;');
    const to = "/ws/backups/{{ hostvars['localhost'].flotilla_start[:10] }}/{{ inventory_hostname }}.log";
    expect(pull.map((t) => Object.keys(t).find((k) => k.startsWith('ansible.')))).toEqual([
      'ansible.builtin.stat', 'ansible.builtin.stat', 'ansible.builtin.fail', 'ansible.builtin.file', 'ansible.posix.synchronize',
    ]);
    expect(pull[1]).toMatchObject({ delegate_to: 'localhost', 'ansible.builtin.stat': { path: to } });
    expect(pull[2]).toMatchObject({ when: 'flotilla_pull_to.stat.exists' });
    expect(pull[4]!['ansible.posix.synchronize']).toMatchObject({ mode: 'pull', dest: to, src: "/var/log/app.log{{ '/' if flotilla_pull_from.stat.isdir else '' }}" });
  });

  it('steps with no Ansible equivalent are an error naming each one at file:line:col; nothing is returned', () => {
    const text = `name: placed
stages:
  - name: build
    hosts: web
    steps:
      - place: least-loaded
      - run: make
        files: [./secret.env]
`;
    let err: unknown;
    try {
      playbook(text, {});
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(PlaybookExportError);
    const problems = (err as PlaybookExportError).problems;
    expect(problems.map((p) => [p.line, p.col])).toEqual([[6, 9], [7, 9]]);
    expect((err as Error).message).toContain('/ws/deploy.yaml:6:9: stage "build" step 1 (place: the least-loaded host): place picks the least-loaded host');
    expect((err as Error).message).toContain('/ws/deploy.yaml:7:9: stage "build" step 2 (run: make): files (copied into a private directory');
  });

  it('a param without a value is asked for, as for a run', () => {
    expect(() => playbook(WORKFLOW, {})).toThrow(VarError);
    expect(() => playbook(WORKFLOW, {})).toThrow(/needs --var tag=… \(release tag\)/);
  });

  it('the inventory that goes with it has exactly the playbook\'s hosts', async () => {
    const { loadInventory } = await import('../../src/core/config/inventory');
    const { mkdtempSync, writeFileSync } = await import('node:fs');
    const { join } = await import('node:path');
    const { tmpdir } = await import('node:os');
    const dir = mkdtempSync(join(tmpdir(), 'flotilla-pb-'));
    writeFileSync(join(dir, 'config'), 'Host a\n  HostName 10.0.0.1\nHost b\n  HostName 10.0.0.2\nHost c\n');
    writeFileSync(join(dir, 'groups.yaml'), 'groups:\n  pair: [a, b]\n');
    const inventory = await loadInventory({ sshConfigFile: join(dir, 'config'), groupsFile: join(dir, 'groups.yaml') });
    const workflow = parseWorkflow('name: x\nstages:\n  - name: s\n    hosts: pair\n    steps:\n      - run: "true"\n');
    const out = exportWorkflowToAnsible({ workflow, inventory, baseDir: dir });
    expect(out.playbook.hosts).toEqual(['a', 'b']);
    expect(parse(out.inventory).all.hosts).toEqual({ a: { ansible_ssh_common_args: `-F ${join(dir, 'config')}` }, b: { ansible_ssh_common_args: `-F ${join(dir, 'config')}` } });
    expect(parse(out.inventory).all.children.flotilla_failed).toEqual({ hosts: {} });
    expect(inventoryBeside('/x/deploy.yml')).toBe('/x/deploy.inventory.yml');
  });

  const hasAnsible = existsSync('/usr/lib/python3/dist-packages/ansible/template/__init__.py');
  it.skipIf(!hasAnsible)('Ansible\'s templar turns each exported command into exactly the runner\'s script for that host', () => {
    const text = `name: quoting
vars: { dir: "~/it's here", odd: "{% x %} {# y #} $HOME" }
stages:
  - name: s
    hosts: db
    steps:
      - run: echo {{ dir }} {{ odd }} {{ host }} "\${#a[@]}" '{{ "{{" }}' 2>/dev/null || true
`.replace(`'{{ "{{" }}'`, `'{ {'`);
    const { pb, workflow } = playbook(text, {});
    const cmd = (parse(pb.text, { version: '1.1' }) as Play[])[0]!.tasks[0]!.block[0]['ansible.builtin.shell'].cmd as string;
    const plan = planWorkflow({ workflow, resolveHosts, baseDir: '/ws', runId: 'r' });
    const script = (plan.stages[0]!.steps[0]!.actions.d1 as { script: string }).script;
    const templated = execFileSync('/usr/bin/python3', ['-c', `
import sys, json
from ansible.parsing.dataloader import DataLoader
from ansible.template import Templar
print(json.dumps(Templar(loader=DataLoader(), variables={'inventory_hostname': 'd1'}).template(sys.argv[1])))
`, cmd], { encoding: 'utf8' });
    expect(JSON.parse(templated)).toBe(script);
  });
});
