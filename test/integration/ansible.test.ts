// Ansible interop with Debian's real `ansible` on the lab fleet: the groups Flotilla reads from INI, YAML
// and `ansible-inventory --list` equal what ansible-inventory reports; a host only the inventory knows is
// reached with the inventory's host/port/user/key (and ProxyJump); an exported inventory lets `ansible`
// reach every web host with strict host key checking, through the same ssh config and known_hosts; the
// playbook exported from a staged workflow, run by ansible-playbook, stops at the same host and leaves the
// same files on every host as Flotilla's own runner.
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadInventory, type Inventory } from '../../src/core/config/inventory';
import type { WorkflowDoc } from '../../src/core/workflows/record';
import { cliInProcess } from './cliInProcess';
import { rollingDeploy, stagedDeploy } from './fixtures/stagedWorkflows';
import { execOut, startFleet, type TestFleet } from './fleet';

const canRunLab = process.getuid?.() === 0;
const hasAnsible = ['/usr/bin/ansible', '/usr/bin/ansible-inventory'].every((b) => existsSync(b));

interface Run { code: number; stdout: string; stderr: string }

describe.skipIf(!canRunLab || !hasAnsible)('Ansible interop on the lab fleet', () => {
  let fleet: TestFleet;
  let config: string;
  let env: Record<string, string | undefined>;
  const host = (alias: string) => fleet.lab.info.hosts.find((h) => h.alias === alias)!;
  const file = (name: string, text: string, mode = 0o644) => {
    const path = join(fleet.dir, name);
    mkdirSync(join(path, '..'), { recursive: true });
    writeFileSync(path, text, { mode });
    return path;
  };

  const run = (cmd: string, args: string[]): Promise<Run> =>
    new Promise((resolve) => {
      execFile(cmd, args, { env, cwd: fleet.dir, timeout: 60_000 }, (err, stdout, stderr) => {
        resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr });
      });
    });

  /** Ansible's own view: group -> every host in it or in its children (what `ansible GROUP` targets). */
  async function ansibleGroups(source: string): Promise<{ groups: Record<string, string[]>; hostvars: Record<string, Record<string, unknown>> }> {
    const r = await run('ansible-inventory', ['-i', source, '--list']);
    expect(r.code, r.stderr).toBe(0);
    const data = JSON.parse(r.stdout) as Record<string, { hosts?: string[]; children?: string[] }> & { _meta: { hostvars: Record<string, Record<string, unknown>> } };
    const flat = (g: string): string[] => [...new Set([...(data[g]?.hosts ?? []), ...(data[g]?.children ?? []).flatMap(flat)])];
    const groups = Object.fromEntries(Object.keys(data).filter((g) => !['_meta', 'all'].includes(g)).map((g) => [g, flat(g).sort()]));
    return { groups, hostvars: data._meta.hostvars };
  }

  /**
   * Flotilla's view of the inventory's groups; Ansible's `ungrouped` is every Flotilla host in no group, and
   * a group --list leaves out is one without hosts.
   */
  function expectSameGroups(inv: Inventory, theirs: Record<string, string[]>, what: string): void {
    const { ungrouped = [], ...named } = theirs;
    const mine = Object.fromEntries([...inv.groups].filter(([g]) => inv.ansibleGroups.has(g)).map(([g, m]) => [g, [...m].sort()]));
    expect(mine, what).toEqual(Object.fromEntries(Object.keys(mine).map((g) => [g, named[g] ?? []])));
    expect(Object.keys(mine), what).toEqual(expect.arrayContaining(Object.keys(named)));
    for (const alias of ungrouped) expect(inv.hosts.find((h) => h.alias === alias)?.groups, `${what}: ${alias}`).toEqual([]);
  }

  const load = (sources: string[], allowScripts = false) =>
    loadInventory({ sshConfigFile: config, groupsFile: join(fleet.dir, 'no-groups.yaml'), ansibleInventories: sources, ansibleAllowScripts: allowScripts });

  beforeAll(async () => {
    fleet = await startFleet({ hosts: 3, behindBastion: 1 });
    const info = fleet.lab.info;
    // The lab's config, plus the lab known_hosts and key for hosts it does not name (inventory-only hosts).
    config = file('flotilla.ssh_config', `${readFileSync(info.sshConfig, 'utf8')}\nHost *\n  UserKnownHostsFile ${info.knownHosts}\n  IdentitiesOnly yes\n`);
    env = {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      SSH_AUTH_SOCK: '',
      ANSIBLE_CONFIG: file('ansible.cfg', ''),
      ANSIBLE_LOCAL_TEMP: join(fleet.dir, 'ansible-tmp'),
      ANSIBLE_HOST_KEY_CHECKING: 'True',
      // Strict checking, and no ControlMaster left running after the test.
      ANSIBLE_SSH_ARGS: '-o StrictHostKeyChecking=yes -o ControlMaster=no',
      ANSIBLE_PYTHON_INTERPRETER: '/usr/bin/python3',
      ANSIBLE_NOCOLOR: '1',
    };
  });

  afterAll(async () => {
    await fleet?.stop();
  });

  const onlyInventoryHosts = () => `db1 ansible_host=${host('lab-2').address} ansible_port=${host('lab-2').port} ansible_user=flotilla ansible_ssh_private_key_file=${fleet.lab.info.identityFile}
db2 ansible_host=${host('lab-3').address} ansible_port=${host('lab-3').port} ansible_user=flotilla ansible_ssh_private_key_file=${fleet.lab.info.identityFile} ansible_ssh_common_args='-J bastion'
`;

  it('groups read from INI and YAML (and group_vars) equal what ansible-inventory reports', async () => {
    const ini = file('site/hosts.ini', `lab-3
[web]
lab-[1:2]
[dbs]
${onlyInventoryHosts()}
[prod:children]
web
dbs
[prod:vars]
ansible_user=flotilla
`);
    file('site/group_vars/dbs.yml', 'ansible_port: 2222\n');
    const yml = file('site/inventory.yml', `all:
  hosts:
    lab-1:
  children:
    canary:
      hosts: {lab-2: }
      children:
        inner: {hosts: {lab-3: , db9: {ansible_host: 127.0.0.1, ansible_port: 2200}}}
    empty:
`);
    for (const source of [ini, yml]) {
      const theirs = await ansibleGroups(source);
      const inv = await load([source]);
      expectSameGroups(inv, theirs.groups, source);
      // The connection vars Flotilla applies to inventory-only hosts are the ones Ansible has for them.
      for (const h of inv.hosts.filter((x) => x.ansible)) {
        const vars = theirs.hostvars[h.alias] ?? {};
        const c = h.ansible!;
        expect({ host: c.host?.value, port: c.port?.value, user: c.user?.value }, h.alias).toEqual({
          host: vars.ansible_host, port: vars.ansible_port, user: vars.ansible_user,
        });
      }
    }
  });

  it('ansible-inventory --list is the source for directories, and for scripts only when allowed', async () => {
    const marker = join(fleet.dir, 'script-ran');
    const script = file('dyn/inventory.py', `#!/usr/bin/python3
import json, pathlib
pathlib.Path(${JSON.stringify(marker)}).write_text('ran')
print(json.dumps({"web": {"hosts": ["lab-1", "dyn1"], "children": ["edge"]}, "edge": {"hosts": ["dyn2"]},
  "_meta": {"hostvars": {"dyn1": {"ansible_host": "${host('lab-2').address}", "ansible_port": ${host('lab-2').port}}}}}))
`, 0o755);
    await expect(load([script])).rejects.toThrow(`${script}: this is an executable inventory script; Flotilla does not run it`);
    expect(existsSync(marker)).toBe(false);

    const inv = await load([script], true);
    expect(existsSync(marker)).toBe(true);
    const theirs = await ansibleGroups(script);
    expectSameGroups(inv, theirs.groups, script);
    expect(inv.hosts.find((h) => h.alias === 'dyn1')!.ansible!.port!.value).toBe(host('lab-2').port);

    const dir = join(fleet.dir, 'site');
    const fromDir = await load([dir]);
    expectSameGroups(fromDir, (await ansibleGroups(dir)).groups, dir);
  });

  it('a host known only from the inventory is connected to with its host/port/user/key, and through its ProxyJump', async () => {
    const source = file('only.ini', `[dbs]\n${onlyInventoryHosts()}`);
    const inv = await load([source]);
    const pool = fleet.pool({ resolve: (alias) => inv.resolve(alias) });
    const db1 = await inv.resolve('db1');
    expect(db1.options.get('port')!.source).toEqual({ file: source, line: 2 });
    expect(db1.options.get('hostname')!.source).toEqual({ file: source, line: 2 });
    const lab2 = host('lab-2');
    expect(await execOut(pool, 'db1', 'echo $USER ${SSH_CONNECTION#* * }')).toEqual({ out: `flotilla ${lab2.address} ${lab2.port}\n`, code: 0 });

    const bastionLog = host('bastion').sshdLog!;
    const before = readFileSync(bastionLog).length;
    const lab3 = host('lab-3');
    expect(await execOut(pool, 'db2', 'echo $USER ${SSH_CONNECTION#* * }')).toEqual({ out: `flotilla ${lab3.address} ${lab3.port}\n`, code: 0 });
    expect(readFileSync(bastionLog).subarray(before).toString()).toContain(`target ${lab3.address} port ${lab3.port}`);
  });

  it('flotilla --ansible-inventory: hosts and config resolve show inventory-only hosts with their inventory lines', async () => {
    const source = file('cli-src.ini', `[dbs]\n${onlyInventoryHosts()}`);
    const global = ['--ssh-config', config, '--groups', fleet.lab.info.groups, '--ansible-inventory', source, '--json'];
    const hosts = await cliInProcess([...global, 'hosts', 'dbs']);
    expect(hosts.code, hosts.stderr).toBe(0);
    const lab2 = host('lab-2');
    expect(JSON.parse(hosts.stdout).hosts).toEqual([
      { alias: 'db1', user: 'flotilla', hostname: lab2.address, port: lab2.port, groups: ['dbs'], proxyJump: null },
      { alias: 'db2', user: 'flotilla', hostname: host('lab-3').address, port: host('lab-3').port, groups: ['dbs'], proxyJump: 'bastion' },
    ]);
    const resolved = await cliInProcess([...global, 'config', 'resolve', 'db1']);
    expect(JSON.parse(resolved.stdout).options.port).toEqual({ values: [String(lab2.port)], source: { file: source, line: 2 } });
    const bad = file('bad.yml', 'all:\n  hosts:\n    - lab-1\n');
    const refused = await cliInProcess(['--ssh-config', config, '--ansible-inventory', bad, 'hosts']);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain(`${bad}:3: "hosts" of group "all" must be a mapping, found a list`);
  });

  it('an exported inventory has Flotilla\'s groups and lets ansible reach every web host with strict host key checking', async () => {
    // jumpbox is the lab's bastion known only from the inventory; db3 (lab-1) is reached through the ssh config's
    // bastion (ssh -J reads a jump host through the ssh config only, and so does Flotilla).
    const bastion = host('bastion');
    const id = fleet.lab.info.identityFile;
    const source = file('export-src.ini', `[dbs]\n${onlyInventoryHosts()}[jumps]
jumpbox ansible_host=${bastion.address} ansible_port=${bastion.port} ansible_user=flotilla ansible_ssh_private_key_file=${id}
db3 ansible_host=${host('lab-1').address} ansible_port=${host('lab-1').port} ansible_user=flotilla ansible_ssh_private_key_file=${id} ansible_ssh_common_args='-J bastion'
`);
    const inv = await loadInventory({ sshConfigFile: config, groupsFile: fleet.lab.info.groups, ansibleInventories: [source] });
    const global = ['--ssh-config', config, '--groups', fleet.lab.info.groups, '--ansible-inventory', source];
    const yaml = join(fleet.dir, 'exported.yml');
    const written = await cliInProcess([...global, 'inventory', 'export', '--format', 'ansible-yaml', '-o', yaml]);
    expect(written.code, written.stderr).toBe(0);
    expect((await cliInProcess([...global, 'inventory', 'export', '-o', yaml])).stderr).toContain(`${yaml} exists`);
    const printed = await cliInProcess([...global, 'inventory', 'export', '--format', 'ansible-ini']);
    expect(printed.code, printed.stderr).toBe(0);
    const ini = file('exported.ini', printed.stdout);
    const web = inv.groups.get('web')!;
    expect(web.length).toBeGreaterThan(1);

    for (const exported of [yaml, ini]) {
      const theirs = await ansibleGroups(exported);
      const mine = Object.fromEntries([...inv.groups].map(([g, m]) => [g, [...m].sort()]));
      expect(theirs.groups, exported).toEqual({ ...mine, ungrouped: inv.hosts.filter((h) => h.groups.length === 0).map((h) => h.alias).sort() });
    }

    const adhoc = await run('ansible', ['-i', yaml, 'web', '-m', 'ansible.builtin.command', '-a', 'hostname', '--one-line']);
    expect(adhoc.code, adhoc.stdout + adhoc.stderr).toBe(0);
    for (const alias of web) expect(adhoc.stdout, alias).toMatch(new RegExp(`^${alias} \\| CHANGED \\| rc=0 \\|`, 'm'));

    // Same addresses as Flotilla connects to, inventory-only hosts (and the jump) included.
    const bastionLog = host('bastion').sshdLog!;
    const before = readFileSync(bastionLog).length;
    const raw = await run('ansible', ['-i', ini, `${web.join(',')},dbs,db3`, '-m', 'ansible.builtin.raw', '-a', 'echo at ${SSH_CONNECTION#* * }', '--one-line']);
    expect(raw.code, raw.stdout + raw.stderr).toBe(0);
    const lab1 = host('lab-1');
    expect(readFileSync(bastionLog).subarray(before).toString()).toContain(`target ${lab1.address} port ${lab1.port}`);
    // Flotilla reaches db3 the same way.
    expect(await execOut(fleet.pool({ resolve: (a) => inv.resolve(a) }), 'db3', 'echo ${SSH_CONNECTION#* * }')).toEqual({ out: `${lab1.address} ${lab1.port}\n`, code: 0 });
    for (const alias of [...web, 'db1', 'db2', 'db3']) {
      const r = await inv.resolve(alias);
      expect(raw.stdout, alias).toMatch(new RegExp(`^${alias} \\| CHANGED \\| rc=0 \\| \\(stdout\\) at ${r.hostname.replace(/\./g, '\\.')} ${r.port}`, 'm'));
    }

    // The host whose key is not in the lab's known_hosts is refused by Ansible too: strict checking is real.
    const unknown = await run('ansible', ['-i', yaml, 'unknown-key', '-m', 'ansible.builtin.raw', '-a', 'true', '--one-line']);
    expect(unknown.code).not.toBe(0);
    expect(unknown.stdout + unknown.stderr).toMatch(/Host key verification failed/);
  });

  describe('a workflow exported as a playbook', () => {
    const labHosts = ['lab-1', 'lab-2', 'lab-3'];
    /** Every file and folder under ~flotilla of each lab host whose name starts with the tag, the tag made T. */
    const markers = (t: string) => Object.fromEntries(labHosts.map((alias) => {
      const home = join(host(alias).isolatedHome!, 'flotilla');
      const found = readdirSync(home, { recursive: true, encoding: 'utf8' })
        .filter((p) => p.startsWith(t))
        .map((p) => `${relative(home, join(home, p)).replaceAll(t, 'T')}${p.includes('/') ? `=${readFileSync(join(home, p), 'utf8').trim()}` : ''}`);
      return [alias, found.sort()];
    }));
    const lab = () => ['--ssh-config', fleet.lab.info.sshConfig, '--groups', fleet.lab.info.groups, '--store', join(fleet.dir, 'store')];

    /** The workflow run by Flotilla (tag tf) and its export run by ansible-playbook (tag ta), each on a clean tag. */
    async function both(workflow: (t: string) => string, setUp: (t: string) => void) {
      const [tf, ta] = [`f${randomBytes(3).toString('hex')}`, `a${randomBytes(3).toString('hex')}`];
      for (const t of [tf, ta]) setUp(t);
      const flotillaFile = file(`${tf}.yaml`, workflow(tf));
      const ran = await cliInProcess([...lab(), '--json', 'workflow', 'run', flotillaFile]);
      expect(ran.code, ran.stderr).toBe(2);
      const doc = JSON.parse(ran.stdout) as WorkflowDoc;

      const playbook = join(fleet.dir, `${ta}.playbook.yml`);
      const exported = await cliInProcess([...lab(), 'workflow', 'export', file(`${ta}.yaml`, workflow(ta)), '--ansible', '-o', playbook]);
      expect(exported.code, exported.stderr).toBe(0);
      const inventory = join(fleet.dir, `${ta}.playbook.inventory.yml`);
      expect(exported.stderr).toContain(`ansible-playbook -i ${inventory} ${playbook}`);
      const played = await run('ansible-playbook', ['-i', inventory, playbook]);
      // Recap lines: host : ok=N changed=N unreachable=N failed=N ...
      const recap = Object.fromEntries([...played.stdout.matchAll(/^(\S+)\s+:\s+ok=\d+.*failed=(\d+)/gm)].map((m) => [m[1]!, Number(m[2])]));
      return { doc, played, recap, flotilla: markers(tf), ansible: markers(ta) };
    }
    const failedIn = (doc: WorkflowDoc) => doc.stages.flatMap((s) => s.hosts.filter((h) => ['failed', 'rolled-back', 'rollback-failed'].includes(h.state)).map((h) => h.host));
    const touchedIn = (doc: WorkflowDoc) => [...new Set(doc.stages.flatMap((s) => s.hosts.filter((h) => h.state !== 'skipped').map((h) => h.host)))].sort();

    it('CLI: a step with no Ansible equivalent is an error at file:line and nothing is written; files are not replaced without --force', async () => {
      const placed = file('placed.yaml', 'name: placed\nstages:\n  - name: build\n    hosts: web\n    steps:\n      - place: least-loaded\n      - run: make\n');
      const out = join(fleet.dir, 'placed.yml');
      const refused = await cliInProcess([...lab(), 'workflow', 'export', placed, '--ansible', '-o', out]);
      expect(refused.code).toBe(1);
      expect(refused.stderr).toContain(`${placed}:6:9: stage "build" step 1 (place: the least-loaded host): place picks the least-loaded host`);
      expect(existsSync(out) || existsSync(join(fleet.dir, 'placed.inventory.yml'))).toBe(false);
      const plain = file('plain.yaml', 'name: plain\nstages:\n  - name: s\n    hosts: web\n    steps:\n      - run: "true"\n');
      expect((await cliInProcess([...lab(), 'workflow', 'export', plain])).stderr).toContain('name what to export to: --ansible');
      const args = [...lab(), 'workflow', 'export', plain, '--ansible', '-o', join(fleet.dir, 'plain.yml')];
      expect((await cliInProcess(args)).code).toBe(0);
      writeFileSync(join(fleet.dir, 'plain.yml'), 'mine\n');
      const again = await cliInProcess(args);
      expect(again.code).toBe(1);
      expect(again.stderr).toContain(`${join(fleet.dir, 'plain.yml')} exists; nothing was written`);
      expect(readFileSync(join(fleet.dir, 'plain.yml'), 'utf8')).toBe('mine\n');
      expect((await cliInProcess([...args, '--force'])).code).toBe(0);
      expect(readFileSync(join(fleet.dir, 'plain.yml'), 'utf8')).toContain('hosts: lab-1,lab-2,!flotilla_failed');
    });

    it('staged deploy: staging fails on lab-1, production is never touched, by either', async () => {
      const r = await both((t) => stagedDeploy(t, join(fleet.dir, `${t}-dist`)), (t) => {
        mkdirSync(join(fleet.dir, `${t}-dist`));
        writeFileSync(join(fleet.dir, `${t}-dist`, 'app.txt'), 'v2\n');
      });
      expect(r.played.code, r.played.stdout + r.played.stderr).toBe(2);
      expect(failedIn(r.doc)).toEqual(['lab-1']);
      expect(Object.keys(r.recap).filter((h) => r.recap[h]! > 0)).toEqual(['lab-1']);
      expect(r.played.stdout).toContain('stage staging: lab-1 failed (max_fail 0); the workflow stops');
      expect(Object.keys(r.recap).filter((h) => h !== 'localhost').sort()).toEqual(touchedIn(r.doc));
      expect(r.flotilla).toEqual({ 'lab-1': ['T app', 'T app/app.txt=v2'], 'lab-2': [], 'lab-3': [] });
      expect(r.ansible).toEqual(r.flotilla);
    });

    it('backup (built-in): the playbook pulls into the same dated per-host folders, and a second run overwrites nothing', async () => {
      const t = `b${randomBytes(3).toString('hex')}`;
      for (const h of ['lab-1', 'lab-2']) {
        mkdirSync(join(host(h).isolatedHome!, 'flotilla', `${t}-data/sub`), { recursive: true });
        writeFileSync(join(host(h).isolatedHome!, 'flotilla', `${t}-data/sub/f.txt`), `from ${h}\n`);
      }
      const vars = (to: string) => ['--var', 'hosts=lab-1,lab-2', '--var', `path=~/${t}-data`, '--var', `to=${to}`];
      const [mine, theirs] = [join(fleet.dir, `${t}-flotilla`), join(fleet.dir, `${t}-ansible`)];
      const ran = await cliInProcess([...lab(), 'workflow', 'run', 'builtin:backup', ...vars(mine)]);
      expect(ran.code, ran.stderr).toBe(0);
      const playbook = join(fleet.dir, `${t}.yml`);
      const exported = await cliInProcess([...lab(), 'workflow', 'export', 'builtin:backup', '--ansible', '-o', playbook, ...vars(theirs)]);
      expect(exported.code, exported.stderr).toBe(0);
      const inventory = join(fleet.dir, `${t}.inventory.yml`);
      const played = await run('ansible-playbook', ['-i', inventory, playbook]);
      expect(played.code, played.stdout + played.stderr).toBe(0);
      const tree = (dir: string) => readdirSync(dir, { recursive: true, encoding: 'utf8' }).sort()
        .map((p) => (existsSync(join(dir, p)) && p.endsWith('.txt') ? `${p}=${readFileSync(join(dir, p), 'utf8').trim()}` : p));
      const date = new Date().toISOString().slice(0, 10);
      expect(tree(mine)).toEqual([date, `${date}/lab-1`, `${date}/lab-1/sub`, `${date}/lab-1/sub/f.txt=from lab-1`, `${date}/lab-2`, `${date}/lab-2/sub`, `${date}/lab-2/sub/f.txt=from lab-2`]);
      expect(tree(theirs)).toEqual(tree(mine));
      writeFileSync(join(host('lab-1').isolatedHome!, 'flotilla', `${t}-data/sub/f.txt`), 'changed\n');
      const again = await run('ansible-playbook', ['-i', inventory, playbook]);
      expect(again.code).toBe(2);
      expect(again.stdout).toContain(`${theirs}/${date}/lab-1 already exists; nothing was overwritten`);
      expect(again.stdout).toMatch(/^fatal: \[lab-1\]: FAILED! => \{"changed": false, "msg": "failed in stage backup"\}/m);
      expect(again.stdout).toMatch(/^lab-2 +: ok=\d+ +changed=\d+ +unreachable=0 +failed=1 /m);
      expect(readFileSync(join(theirs, date, 'lab-1/sub/f.txt'), 'utf8')).toBe('from lab-1\n');
    });

    it('serial: 1 whose gate fails on lab-2: both stop there, roll lab-2 back and never touch lab-3', async () => {
      const r = await both(rollingDeploy, (t) => writeFileSync(join(host('lab-2').isolatedHome!, 'flotilla', `${t}-broken`), ''));
      expect(r.played.code, r.played.stdout + r.played.stderr).toBe(2);
      expect(failedIn(r.doc)).toEqual(['lab-2']);
      expect(Object.keys(r.recap).filter((h) => r.recap[h]! > 0)).toEqual(['lab-2']);
      expect(r.played.stdout).toContain('stage production: lab-2 failed (max_fail 0); the workflow stops');
      expect(r.played.stdout).toMatch(/FAILED - RETRYING: \[lab-2\]: gate/);
      expect(Object.keys(r.recap).sort()).toEqual(touchedIn(r.doc));
      expect(r.flotilla).toEqual({ 'lab-1': ['T-deployed'], 'lab-2': ['T-broken', 'T-deployed', 'T-rolled-back'], 'lab-3': [] });
      expect(r.ansible).toEqual(r.flotilla);
    });
  });
});
