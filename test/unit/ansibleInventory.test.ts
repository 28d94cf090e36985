// Ansible inventories read by Flotilla: INI and YAML grammar, errors with file:line, variable precedence,
// connection variables applied to inventory-only hosts, what is refused (scripts, plugins), and export.
// (The same files are checked against the real ansible-inventory in test/integration/ansible.test.ts.)
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AnsibleInventoryError, loadAnsibleInventory, sshArgv } from '../../src/core/ansible';
import { formatAnsibleExport, planAnsibleExport } from '../../src/core/ansible/export';
import { expandHostPattern } from '../../src/core/ansible/hostPattern';
import { pythonLiteral, shellWords } from '../../src/core/ansible/values';
import { loadInventory } from '../../src/core/config/inventory';

let dir: string;
beforeEach(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'flotilla-ansible-'));
});
afterEach(async () => {
  await fs.rm(dir, { recursive: true, force: true });
});

async function write(name: string, text: string, mode = 0o644): Promise<string> {
  const file = path.join(dir, name);
  await fs.mkdir(path.dirname(file), { recursive: true });
  await fs.writeFile(file, text, { mode });
  return file;
}

async function load(name: string, text: string) {
  return loadAnsibleInventory([await write(name, text)]);
}

async function loadError(name: string, text: string): Promise<string> {
  const err = await load(name, text).catch((e: unknown) => e);
  expect(err).toBeInstanceOf(AnsibleInventoryError);
  return (err as Error).message;
}

const groupHosts = (inv: Awaited<ReturnType<typeof load>>) =>
  Object.fromEntries([...inv.groups.keys()].map((g) => [g, inv.hostsOf(g).sort()]));

const INI = `# a comment
loose ansible_host=10.0.0.9
; another comment
[web]
web[01:03] ansible_user=deploy
db-a:2201 ansible_ssh_common_args='-o ProxyJump=bastion'   # trailing comment
[web:vars]
ansible_port=2222
http_port = 80 # Python comment, as literal_eval reads it

[prod:children]
web
dbs
[dbs]
db-[a:c]
[prod:vars]
ansible_user=produser
`;

describe('INI inventories', () => {
  it('reads groups, children declared before their group, ranges, host:port and vars', async () => {
    const inv = await load('hosts', INI);
    expect(groupHosts(inv)).toEqual({
      all: ['db-a', 'db-b', 'db-c', 'loose', 'web01', 'web02', 'web03'],
      ungrouped: ['loose'],
      web: ['db-a', 'web01', 'web02', 'web03'],
      prod: ['db-a', 'db-b', 'db-c', 'web01', 'web02', 'web03'],
      dbs: ['db-a', 'db-b', 'db-c'],
    });
    const vars = (h: string) => Object.fromEntries([...inv.hostVars(h)].map(([k, v]) => [k, v.value]));
    expect(vars('db-a')).toEqual({ ansible_port: 2201, ansible_ssh_common_args: '-o ProxyJump=bastion', ansible_user: 'produser', http_port: 80 });
    expect(vars('web02')).toEqual({ ansible_port: 2222, ansible_user: 'deploy', http_port: 80 });
    expect(inv.hostVars('web02').get('ansible_user')!.source).toEqual({ file: path.join(dir, 'hosts'), line: 5 });
    expect(inv.hostVars('db-b').get('ansible_user')!.source.line).toBe(17);
  });

  it.each([
    ['[web:hosts2]\na', ':1: section [web:hosts2] has unknown type "hosts2"'],
    ['[web]\na\n[web:children]\nnope', ':4: [web:children] names group "nope", which is never defined'],
    ['[web:vars]\nx=1', ':1: [web:vars] is for a group that is never defined'],
    ['[web]\na user', ':2: expected key=value after the host, got "user"'],
    ['[web]\na x="unclosed', ':2: cannot parse host line'],
    ['[web ]\na', ':1: invalid section [web ]'],
    ['[web]\nh[1:x]', ':2: host pattern "h[1:x]"'],
    ['[a:children]\nb\n[b:children]\na\n[b]', ':4: adding group "a" as a child of "b" creates a dependency loop'],
  ])('a malformed file names file:line: %j', async (text, expected) => {
    expect(await loadError('bad.ini', text)).toContain(`${path.join(dir, 'bad.ini')}${expected}`);
  });
});

describe('YAML inventories', () => {
  const YAML = `all:
  vars:
    ansible_user: root
  hosts:
    solo:
  children:
    web:
      vars: {ansible_port: 2200}
      hosts:
        w[1:2].example.com:
      children:
        canary:
          vars: {ansible_port: 2300}
          hosts:
            w1.example.com: {ansible_user: canary}
    db:
      hosts: dbonly
`;

  it('reads nested children, bare-string hosts, ranges and precedence by depth', async () => {
    const inv = await load('inv.yml', YAML);
    expect(groupHosts(inv)).toMatchObject({ web: ['w1.example.com', 'w2.example.com'], canary: ['w1.example.com'], db: ['dbonly'], ungrouped: ['solo'] });
    const w1 = inv.hostVars('w1.example.com');
    expect(w1.get('ansible_port')).toEqual({ value: 2300, source: { file: path.join(dir, 'inv.yml'), line: 13 } });
    expect(w1.get('ansible_user')!.value).toBe('canary');
    expect(inv.hostVars('w2.example.com').get('ansible_port')!.value).toBe(2200);
    expect(inv.hostVars('solo').get('ansible_user')!.value).toBe('root');
  });

  it('ansible_group_priority orders groups of the same depth; group_vars and host_vars beside the file rank above it', async () => {
    const file = await write('site/inv.yaml', `all:
  children:
    a: {hosts: {h1: {ansible_host: from-inventory}}, vars: {ansible_user: a, ansible_group_priority: 5}}
    b: {hosts: {h1: }, vars: {ansible_user: b}}
`);
    await write('site/group_vars/all.yml', 'ansible_port: 2201\n');
    await write('site/group_vars/b/main.yml', '---\nansible_user: from-group-vars\n');
    await write('site/host_vars/h1', 'ansible_host: from-host-vars\n');
    const inv = await loadAnsibleInventory([file]);
    const vars = inv.hostVars('h1');
    expect(vars.get('ansible_user')).toEqual({ value: 'from-group-vars', source: { file: path.join(dir, 'site/group_vars/b/main.yml'), line: 2 } });
    expect(vars.get('ansible_host')!.value).toBe('from-host-vars');
    expect(vars.get('ansible_port')!.value).toBe(2201);
    await fs.rm(path.join(dir, 'site/group_vars'), { recursive: true });
    await fs.rm(path.join(dir, 'site/host_vars'), { recursive: true });
    // a has priority 5 > b's default 1: a's vars are applied last.
    expect((await loadAnsibleInventory([file])).hostVars('h1').get('ansible_user')!.value).toBe('a');
  });

  it.each([
    ['all:\n  hosts:\n    - a\n    - b\n', ':3: "hosts" of group "all" must be a mapping, found a list'],
    ['all:\n  hosts:\n    a: [1]\n', ':3: variables of host "a" must be a mapping'],
    ['all:\n  hosts:\n    123:\n', ':3: host pattern 123 must be a string'],
    ['all:\n  hosts: {a: 1\n', ':3: malformed YAML'],
    ['- a\n', ':1: a YAML inventory must be a mapping of group names'],
    ['', ':1: the YAML inventory is empty'],
  ])('a malformed file names file:line: %j', async (text, expected) => {
    expect(await loadError('bad.yml', text)).toContain(`${path.join(dir, 'bad.yml')}${expected}`);
  });

  it('a file without extension is YAML when it reads as a mapping, else INI', async () => {
    expect(groupHosts(await load('inventory', 'web:\n  hosts:\n    a:\n')).web).toEqual(['a']);
    expect(groupHosts(await load('inventory2', '[web]\na\n')).web).toEqual(['a']);
  });
});

describe('what would run code is refused unless allowed', () => {
  it('an executable script is not run', async () => {
    const marker = path.join(dir, 'ran');
    const script = await write('inv.sh', `#!/bin/sh\ntouch ${marker}\necho '{}'\n`, 0o755);
    const err = await loadAnsibleInventory([script]).then(() => new Error("loaded"), (e: unknown) => e as Error);
    expect(err.message).toContain('this is an executable inventory script; Flotilla does not run it: enable flotilla.ansible.allowInventoryScripts');
    await expect(fs.stat(marker)).rejects.toThrow();
  });

  it('a plugin configuration is not run', async () => {
    expect(await loadError('aws_ec2.yml', 'plugin: amazon.aws.aws_ec2\nregions: [eu-west-1]\n')).toContain('inventory plugin configuration (plugin: amazon.aws.aws_ec2)');
  });

  it('a missing file says so', async () => {
    const err = await loadAnsibleInventory([path.join(dir, 'missing.ini')]).then(() => new Error("loaded"), (e: unknown) => e as Error);
    expect(err.message).toBe(`${path.join(dir, 'missing.ini')}: cannot read the inventory: no such file or directory`);
  });
});

describe('host patterns and values', () => {
  it('expands ranges like Ansible', () => {
    expect(expandHostPattern('web[01:10:3].x').names).toEqual(['web01.x', 'web04.x', 'web07.x', 'web10.x']);
    expect(expandHostPattern('h[a:c]-[1:2]').names).toEqual(['ha-1', 'ha-2', 'hb-1', 'hb-2', 'hc-1', 'hc-2']);
    expect(expandHostPattern('host:2222')).toEqual({ names: ['host'], port: 2222 });
    expect(expandHostPattern('[::1]:22')).toEqual({ names: ['::1'], port: 22 });
    expect(expandHostPattern('10.0.0.1')).toEqual({ names: ['10.0.0.1'], port: undefined });
    expect(() => expandHostPattern('h[01:5]')).toThrow('equal-length');
  });

  it('reads INI values as literal_eval does', () => {
    expect(pythonLiteral('2222')).toBe(2222);
    expect(pythonLiteral('0755')).toBe('0755');
    expect(pythonLiteral('True')).toBe(true);
    expect(pythonLiteral("'quoted'")).toBe('quoted');
    expect(pythonLiteral('80 # note')).toBe(80);
    expect(pythonLiteral('a b # c')).toBe('a b # c');
  });
});

describe('inventory-only hosts in the fleet', () => {
  async function fleetWith(inventoryText: string, name = 'hosts.ini') {
    const sshConfig = await write('ssh_config', 'Host known\n  HostName 127.0.0.5\n  Port 2022\n\nHost 10.1.1.*\n  IdentityFile ~/.ssh/from_config\n');
    const inventory = await write(name, inventoryText);
    return { inv: await loadInventory({ sshConfigFile: sshConfig, groupsFile: await write('groups.yaml', 'groups:\n  mine: [known, web1]\n'), homeDir: dir, ansibleInventories: [inventory] }), inventory, sshConfig };
  }

  it('joins the groups, nests them for the tree, and resolves with the inventory\'s host/port/user/key/ProxyJump and their lines', async () => {
    const { inv, inventory } = await fleetWith(`[web]
web1 ansible_host=10.1.1.7 ansible_port=2200 ansible_user=deploy ansible_ssh_private_key_file=keys/id
web2 ansible_host=10.1.2.8 ansible_ssh_common_args='-o ProxyJump=known -C'
known ansible_port=9
[prod:children]
web
`);
    expect(inv.hosts.map((h) => h.alias)).toEqual(['known', 'web1', 'web2']);
    expect(Object.fromEntries(inv.groups)).toEqual({ mine: ['known', 'web1'], web: ['web1', 'web2', 'known'], prod: ['web1', 'web2', 'known'] });
    expect(inv.unknownMembers).toEqual([]);
    expect(inv.ansibleGroups.get('prod')).toMatchObject({ children: ['web'], hosts: [], parents: [] });
    expect(inv.ansibleGroups.get('web')).toMatchObject({ children: [], hosts: ['web1', 'web2', 'known'], parents: ['prod'] });
    expect(inv.warnings).toContain('known is in the ssh config, whose settings Flotilla uses; the inventory\'s ansible_port are not applied');
    expect(inv.warnings.some((w) => w.includes('ssh args not applied by Flotilla') && w.includes('-C'))).toBe(true);

    const web1 = await inv.resolve('web1');
    expect({ alias: web1.alias, hostname: web1.hostname, port: web1.port, user: web1.user }).toEqual({ alias: 'web1', hostname: '10.1.1.7', port: 2200, user: 'deploy' });
    // The inventory's key first, then the one the ssh config gives 10.1.1.* (ssh matches the config against ansible_host).
    expect(web1.identityFiles).toEqual([path.join(dir, 'keys/id'), path.join(dir, '.ssh/from_config')]);
    const line2 = { file: inventory, line: 2 };
    for (const key of ['hostname', 'port', 'user', 'identityfile']) expect(web1.options.get(key)!.source, key).toEqual(line2);

    const web2 = await inv.resolve('web2');
    expect(web2.proxyJump).toBe('known');
    expect(web2.options.get('proxyjump')).toEqual({ key: 'proxyjump', values: ['known'], source: { file: inventory, line: 3 } });
    expect(web2.port).toBe(22);
    // A host of the ssh config resolves from the ssh config only.
    expect((await inv.resolve('known')).port).toBe(2022);
    // "Copy ssh command" for an inventory-only host puts its settings on the command line.
    expect(sshArgv(inv.hosts.find((h) => h.alias === 'web2')!.ansible!, '/cfg')).toEqual(['ssh', '-F', '/cfg', '-o', 'ProxyJump=known', '10.1.2.8']);
  });

  it('a ProxyJump from the ssh args is normalised like the ssh config\'s, and an invalid one is ignored with a warning', async () => {
    const { inv } = await fleetWith(`a ansible_ssh_common_args='-J ssh://admin@known:2022'\nb ansible_ssh_extra_args='-oProxyJump=bad@'\n`);
    expect((await inv.resolve('a')).proxyJump).toBe('admin@known:2022');
    expect((await inv.resolve('b')).proxyJump).toBeUndefined();
    expect(inv.warnings.some((w) => w.includes('ProxyJump of b is not [user@]host[:port]'))).toBe(true);
  });

  it('a template is not evaluated, and says so', async () => {
    const { inv } = await fleetWith('web1 ansible_host="{{ lookup(\'env\', \'X\') }}"\n');
    expect(inv.warnings.some((w) => w.includes('ansible_host of web1 is a template'))).toBe(true);
    expect((await inv.resolve('web1')).hostname).toBe('web1');
  });
});

describe('inventory export', () => {
  it('writes YAML and INI that read back to the same groups and connection vars', async () => {
    const sshConfig = await write('ssh_config', 'Host a b c\n  Port 2022\n');
    const source = await write('src.yml', `all:
  children:
    inv: {hosts: {only: {ansible_host: 10.0.0.3, ansible_port: 2200, ansible_user: "yes", ansible_ssh_common_args: "-J a"}}}
`);
    const inv = await loadInventory({ sshConfigFile: sshConfig, homeDir: dir, ansibleInventories: [source], groupsFile: await write('g.yaml', 'groups:\n  web: [a, b, ghost]\n  db: [c]\n') });
    const plan = planAnsibleExport(inv, 'web,inv');
    expect(Object.fromEntries(plan.groups)).toEqual({ web: ['a', 'b'], inv: ['only'] });
    const args = `-F ${sshConfig}`;
    expect(plan.hosts.get('a')).toEqual({ ansible_ssh_common_args: args });
    expect(plan.hosts.get('only')).toEqual({ ansible_host: '10.0.0.3', ansible_port: 2200, ansible_user: 'yes', ansible_ssh_common_args: `${args} -o ProxyJump=a` });
    for (const format of ['ansible-yaml', 'ansible-ini'] as const) {
      const text = formatAnsibleExport(plan, format);
      const back = await loadAnsibleInventory([await write(format === 'ansible-yaml' ? 'out.yml' : 'out.ini', text)]);
      expect(back.hostsOf('web').sort(), format).toEqual(['a', 'b']);
      expect(back.hostsOf('inv'), format).toEqual(['only']);
      const vars = Object.fromEntries([...back.hostVars('only')].map(([k, v]) => [k, v.value]));
      expect(vars, format).toEqual(plan.hosts.get('only'));
    }
    expect(formatAnsibleExport(plan, 'ansible-ini')).toContain(`only ansible_host=10.0.0.3 ansible_port=2200 ansible_user=yes ansible_ssh_common_args='-F ${sshConfig} -o ProxyJump=a'`);
  });

  it('with the default ssh config (as ssh reads it anyway) no -F is written', async () => {
    await write('.ssh/config', 'Host a\n  Port 2022\n');
    const inv = await loadInventory({ homeDir: dir, groupsFile: await write('g2.yaml', 'groups:\n  web: [a]\n') });
    expect(planAnsibleExport(inv).hosts.get('a')).toEqual({});
    expect(formatAnsibleExport(planAnsibleExport(inv), 'ansible-yaml')).toContain('all:\n  hosts:\n    a:\n  children:\n    web:\n      hosts:\n        a:\n');
  });

  it('a jump through a host only the inventory knows stays a ProxyJump, read through the ssh config as ssh -J does', async () => {
    const source = await write('jump.ini', `jumpbox ansible_host=10.0.0.1 ansible_port=2201 ansible_user=j ansible_ssh_private_key_file=/k/id%1
web ansible_host=10.0.0.2 ansible_ssh_common_args='-J admin@jumpbox'
chain ansible_host=10.0.0.3 ansible_ssh_common_args='-J a,jumpbox'
`);
    const inv = await loadInventory({ sshConfigFile: await write('cfg', 'Host a\n  Port 2022\n'), homeDir: dir, ansibleInventories: [source], groupsFile: path.join(dir, 'none.yaml') });
    const cfg = path.join(dir, 'cfg');
    expect(shellWords(String(planAnsibleExport(inv, 'web').hosts.get('web')!.ansible_ssh_common_args))).toEqual(['-F', cfg, '-o', 'ProxyJump=admin@jumpbox']);
    expect(shellWords(String(planAnsibleExport(inv, 'chain').hosts.get('chain')!.ansible_ssh_common_args))).toEqual(['-F', cfg, '-o', 'ProxyJump=a,jumpbox']);
    // The jump host is the ssh config's "jumpbox" (no Host block: the name itself, port 22), not the inventory's.
    const web = await inv.resolve('web');
    expect((await inv.resolve('jumpbox')).hostname).toBe('10.0.0.1');
    const jump = await inv.resolveJump({ name: 'jumpbox', user: 'admin' }, web);
    expect({ hostname: jump.hostname, port: jump.port, user: jump.user }).toEqual({ hostname: 'jumpbox', port: 22, user: 'admin' });
    expect((await inv.resolveJump({ name: 'a' }, web)).port).toBe(2022);
  });
});
