import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  addToGroup,
  createGroup,
  defaultGroupsPaths,
  deleteGroup,
  findGroupsFile,
  flagUnknownMembers,
  GroupsFileError,
  loadGroups,
  removeFromGroup,
  renameGroup,
  validateGroupName,
} from '../../src/core/config/groups';

let dir: string;
let file: string;

beforeEach(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'flotilla-groups-'));
  file = path.join(dir, 'config.yaml');
});
afterEach(async () => {
  await fs.rm(dir, { recursive: true, force: true });
});

const write = (text: string): Promise<void> => fs.writeFile(file, text);
const read = (): Promise<string> => fs.readFile(file, 'utf8');
const groupsOf = async (): Promise<Record<string, readonly string[]>> =>
  Object.fromEntries((await loadGroups(file)).groups);

async function loadError(text: string): Promise<GroupsFileError> {
  await write(text);
  const err = await loadGroups(file).catch((e: unknown) => e);
  expect(err).toBeInstanceOf(GroupsFileError);
  return err as GroupsFileError;
}

const SAMPLE = `# Fleet groups, edited by hand and by sshsync
groups:
  # the web tier
  web: [web1, web2]  # behind the LB
  db:
  - db1   # primary
  - db2
  spare:
host_defaults: {user: ops, port: 2222}
`;

describe('loadGroups', () => {
  it('reads flow lists, block lists and null groups, in file order', async () => {
    await write(SAMPLE);
    const loaded = await loadGroups(file);
    expect([...loaded.groups]).toEqual([
      ['web', ['web1', 'web2']],
      ['db', ['db1', 'db2']],
      ['spare', []],
    ]);
    expect(loaded.warnings).toEqual([]);
  });

  it('treats a missing file, an empty file and a file without groups as no groups', async () => {
    expect((await loadGroups(file)).groups.size).toBe(0);
    await write('');
    expect((await loadGroups(file)).groups.size).toBe(0);
    await write('# nothing yet\ngroups:\n');
    expect((await loadGroups(file)).groups.size).toBe(0);
  });

  it('reports malformed YAML with 1-based line and column and the yaml message', async () => {
    const err = await loadError('groups:\n  web: [a, b\n  db: [c]\n');
    expect(err.line).toBeGreaterThanOrEqual(2);
    expect(err.col).toBeGreaterThanOrEqual(1);
    expect(err.message).toContain(`${file}:${err.line}:${err.col}: malformed YAML:`);
    const tab = await loadError('groups:\n  web:\n\t- a\n');
    expect(tab.line).toBe(3);
    expect(tab.col).toBe(1);
  });

  it('surfaces a duplicate group as an error at the second key', async () => {
    const err = await loadError('groups:\n  web: [a]\n  db: [b]\n  web: [c]\n');
    expect([err.line, err.col]).toEqual([4, 3]);
    expect(err.message).toMatch(/unique/);
  });

  it('rejects wrong shapes naming the group and the line', async () => {
    const notMap = await loadError('groups: [web, db]\n');
    expect(notMap.line).toBe(1);
    expect(notMap.message).toMatch(/"groups" must map each group name/);

    const member = await loadError('groups:\n  web:\n    - web1\n    - {host: web2}\n');
    expect([member.line, member.col]).toEqual([4, 7]);
    expect(member.message).toContain('group "web"');

    const number = await loadError('groups:\n  web: [web1, 10]\n');
    expect(number.line).toBe(2);
    expect(number.message).toMatch(/group "web".*number "10".*quote it/);

    const scalar = await loadError('groups:\n  web: web1\n');
    expect(scalar.message).toMatch(/group "web": members must be a list/);

    const key = await loadError('groups:\n  123: [a]\n');
    expect(key.line).toBe(2);
    expect(key.message).toMatch(/group name must be text/);
  });

  it('reads the file as sshsync (PyYAML, YAML 1.1) would: a bare `on` is not an alias', async () => {
    const err = await loadError('groups:\n  web: [on]\n');
    expect(err.message).toMatch(/boolean "true".*quote it/);
  });

  it('keeps __proto__ and constructor as ordinary group names and aliases', async () => {
    await write('groups:\n  __proto__: [constructor]\n  constructor: [__proto__]\n');
    const loaded = await loadGroups(file);
    expect([...loaded.groups]).toEqual([
      ['__proto__', ['constructor']],
      ['constructor', ['__proto__']],
    ]);
    expect(({} as Record<string, unknown>).constructor).toBe(Object);
  });

  it('warns (with line:col) about members it leaves out and duplicates, never silently', async () => {
    await write('groups:\n  web:\n    - web1\n    - "-oProxyCommand=x"\n    - web1\n  all: [a]\n');
    const loaded = await loadGroups(file);
    expect(Object.fromEntries(loaded.groups)).toEqual({ web: ['web1'] });
    expect(loaded.warnings).toHaveLength(3);
    expect(loaded.warnings[0]).toMatch(/^4:7: group "web": member "-oProxyCommand=x" starts with "-"/);
    expect(loaded.warnings[1]).toMatch(/^5:7: group "web": "web1" is listed twice/);
    expect(loaded.warnings[2]).toMatch(/^6:3: "all" is reserved/);
  });

  it('follows a YAML alias to another group list', async () => {
    await write('groups:\n  web: &w [a, b]\n  web-copy: *w\n');
    expect(await groupsOf()).toEqual({ web: ['a', 'b'], 'web-copy': ['a', 'b'] });
  });

  it('relies on yaml limits against alias bombs without hanging', async () => {
    const bomb = ['a: &a ["x","x","x","x","x","x","x","x","x"]'];
    for (let i = 0; i < 9; i++) bomb.push(`${'b' + i}: &${'b' + i} [${Array(9).fill(i === 0 ? '*a' : `*b${i - 1}`).join(',')}]`);
    await write(`${bomb.join('\n')}\ngroups:\n  web: [a]\n`);
    expect(await groupsOf()).toEqual({ web: ['a'] });
    await write(`${bomb.join('\n')}\ngroups:\n  web: *b8\n`);
    await expect(loadGroups(file)).rejects.toThrow(/each member must be a host alias, found a list/);
  });
});

describe('editing keeps the file', () => {
  it('round-trips comments, unknown top-level keys and both list styles', async () => {
    await write(SAMPLE);
    await addToGroup(file, 'web', ['web3']);
    await addToGroup(file, 'db', ['db3']);
    expect(await read()).toBe(`# Fleet groups, edited by hand and by sshsync
groups:
  # the web tier
  web: [web1, web2, web3] # behind the LB
  db:
  - db1 # primary
  - db2
  - db3
  spare:
host_defaults: {user: ops, port: 2222}
`);
    expect(await groupsOf()).toEqual({ web: ['web1', 'web2', 'web3'], db: ['db1', 'db2', 'db3'], spare: [] });
  });

  it('keeps an indented block-list layout when the file uses it', async () => {
    await write('groups:\n    db:\n        - db1\n');
    await addToGroup(file, 'db', ['db2']);
    expect(await read()).toBe('groups:\n    db:\n        - db1\n        - db2\n');
  });

  it('adds without duplicates, creating the group in the style the file already uses', async () => {
    await write(SAMPLE);
    await addToGroup(file, 'web', ['web1', 'web4', 'web4']);
    await addToGroup(file, 'cache', ['c1']);
    await addToGroup(file, 'spare', ['s1']);
    const text = await read();
    expect(text).toContain('  web: [web1, web2, web4] # behind the LB\n');
    expect(text).toContain('  spare: [s1]\n  cache: [c1]\nhost_defaults:');
  });

  it('removes members and keeps the rest', async () => {
    await write(SAMPLE);
    await removeFromGroup(file, 'db', ['db1', 'nope']);
    await removeFromGroup(file, 'web', ['web1', 'web2']);
    const text = await read();
    expect(text).toContain('  web: [] # behind the LB\n  db:\n  - db2\n');
    await expect(removeFromGroup(file, 'ghost', ['a'])).rejects.toThrow(/No group named "ghost"/);
  });

  it('renames in place, keeping position and comments', async () => {
    await write(SAMPLE);
    await renameGroup(file, 'web', 'frontend');
    expect(await read()).toBe(SAMPLE.replace('  web: [web1, web2]  #', '  frontend: [web1, web2] #').replace('db1   #', 'db1 #'));
    expect([...(await loadGroups(file)).groups.keys()]).toEqual(['frontend', 'db', 'spare']);
    await expect(renameGroup(file, 'frontend', 'db')).rejects.toThrow(/already exists/);
    await expect(renameGroup(file, 'ghost', 'x')).rejects.toThrow(/No group named "ghost"/);
  });

  it('creates and deletes groups', async () => {
    await write(SAMPLE);
    await createGroup(file, 'new');
    await expect(createGroup(file, 'new')).rejects.toThrow(/already exists/);
    await deleteGroup(file, 'db');
    expect(await groupsOf()).toEqual({ web: ['web1', 'web2'], spare: [], new: [] });
    expect(await read()).toContain('host_defaults: {user: ops, port: 2222}');
    await expect(deleteGroup(file, 'db')).rejects.toThrow(/No group named "db"/);
  });

  it('handles __proto__ as a plain group when editing', async () => {
    await write(SAMPLE);
    await addToGroup(file, '__proto__', ['constructor']);
    await renameGroup(file, '__proto__', 'constructor');
    expect((await groupsOf()).constructor).toEqual(['constructor']);
    expect(Object.getPrototypeOf(await groupsOf())).toBe(Object.prototype);
  });

  it('gives a group reached through a YAML alias its own list before editing', async () => {
    await write('groups:\n  web: &w [a, b]\n  copy: *w\n');
    await addToGroup(file, 'copy', ['c']);
    expect(await groupsOf()).toEqual({ web: ['a', 'b'], copy: ['a', 'b', 'c'] });
  });

  it('creates the directory and the file in sshsync layout when missing', async () => {
    const nested = path.join(dir, '.config', 'sshsync', 'config.yml');
    await addToGroup(nested, 'web', ['web1', 'web2']);
    await createGroup(nested, 'db');
    expect(await fs.readFile(nested, 'utf8')).toBe('groups:\n  web:\n  - web1\n  - web2\n  db: []\n');
  });

  it('keeps the comments of a comments-only file', async () => {
    await write('# groups go here\n');
    await addToGroup(file, 'web', ['a']);
    const text = await read();
    expect(text.startsWith('# groups go here\n')).toBe(true);
    expect(await groupsOf()).toEqual({ web: ['a'] });
  });

  it('quotes new aliases that YAML 1.1 would read as something else', async () => {
    await write('groups:\n  web: [a]\n');
    await addToGroup(file, 'web', ['on', '007']);
    expect(await read()).toBe('groups:\n  web: [a, "on", "007"]\n');
    expect(await groupsOf()).toEqual({ web: ['a', 'on', '007'] });
  });

  it('writes atomically: no temp file left, mode kept, symlink kept', async () => {
    await write(SAMPLE);
    await fs.chmod(file, 0o640);
    const link = path.join(dir, 'link.yaml');
    await fs.symlink(file, link);
    await addToGroup(link, 'web', ['web9']);
    expect((await fs.readdir(dir)).sort()).toEqual(['config.yaml', 'link.yaml']);
    expect((await fs.lstat(link)).isSymbolicLink()).toBe(true);
    if (process.platform !== 'win32') expect((await fs.stat(file)).mode & 0o777).toBe(0o640);
    expect((await groupsOf()).web).toEqual(['web1', 'web2', 'web9']);
  });

  it('serialises concurrent edits of one file', async () => {
    await write(SAMPLE);
    await Promise.all(['a', 'b', 'c', 'd'].map((alias) => addToGroup(file, 'spare', [alias])));
    expect((await groupsOf()).spare).toEqual(['a', 'b', 'c', 'd']);
  });

  it('refuses to edit a file it cannot read, and leaves it untouched', async () => {
    await write('groups:\n  web: [a\n');
    await expect(addToGroup(file, 'web', ['b'])).rejects.toBeInstanceOf(GroupsFileError);
    expect(await read()).toBe('groups:\n  web: [a\n');
  });

  it('validates names and aliases before touching the file', async () => {
    await expect(addToGroup(file, 'all', ['a'])).rejects.toThrow(/reserved/);
    await expect(addToGroup(file, 'web', ['bad alias'])).rejects.toThrow(/whitespace/);
    await expect(fs.stat(file)).rejects.toThrow();
  });
});

describe('validateGroupName', () => {
  it.each([
    ['', /empty/],
    [' web', /whitespace/],
    ['web\n', /control characters/],
    ['all', /reserved/],
    ['ALL', /reserved/],
    ['web,db', /","/],
    ['-web', /starts with "-"/],
  ])('rejects %j', (name, message) => {
    expect(() => validateGroupName(name)).toThrow(message);
  });

  it.each(['web', 'web-tier', 'gpu_boxes', '__proto__', 'constructor', 'all-servers', 'prod.eu'])('accepts %j', (name) => {
    expect(() => validateGroupName(name)).not.toThrow();
  });
});

describe('locating the file', () => {
  it('lists config.yaml then config.yml', () => {
    expect(defaultGroupsPaths('/h')).toEqual([
      path.join('/h', '.config', 'sshsync', 'config.yaml'),
      path.join('/h', '.config', 'sshsync', 'config.yml'),
    ]);
  });

  it('prefers the configured path (with ~ expanded), else the first default that exists', async () => {
    expect(await findGroupsFile('~/groups.yaml', dir)).toBe(path.join(dir, 'groups.yaml'));
    expect(await findGroupsFile('  ', dir)).toBeUndefined();
    await expect(findGroupsFile('relative.yaml', dir)).rejects.toThrow(/absolute/);
    const [yaml, yml] = defaultGroupsPaths(dir);
    await fs.mkdir(path.dirname(yml!), { recursive: true });
    await fs.writeFile(yml!, 'groups: {}\n');
    expect(await findGroupsFile(undefined, dir)).toBe(yml);
    await fs.writeFile(yaml!, 'groups: {}\n');
    expect(await findGroupsFile(undefined, dir)).toBe(yaml);
  });
});

describe('flagUnknownMembers', () => {
  it('flags members missing from the ssh config without dropping them', async () => {
    await write(SAMPLE);
    const loaded = await loadGroups(file);
    expect(flagUnknownMembers(loaded, new Set(['web1', 'db1', 'db2']))).toEqual([{ group: 'web', alias: 'web2' }]);
    expect(loaded.groups.get('web')).toEqual(['web1', 'web2']);
  });
});

describe('bounded input', () => {
  it('a 50 MB groups file (or a device that never ends) is refused at 4 MiB, before parsing', async () => {
    await fs.writeFile(file, `groups:\n  big:\n${'  - host-with-a-long-name\n'.repeat(2_000_000)}`);
    const err = await loadGroups(file).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(GroupsFileError);
    expect((err as Error).message).toMatch(/larger than 4 MiB \(or never ends\)/);
    await expect(loadGroups('/dev/zero')).rejects.toThrow(/larger than 4 MiB/);
  });
});
