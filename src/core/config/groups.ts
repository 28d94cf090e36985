// sshsync's groups file (`groups: {name: [alias, ...]}`): read it, and edit it in place keeping the
// user's comments, unknown keys, order and layout.

import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import { readAtMost } from './boundedRead';
import * as nodePath from 'node:path';
import {
  Document,
  isAlias,
  isCollection,
  isMap,
  isPair,
  isScalar,
  isSeq,
  LineCounter,
  parseDocument,
  Scalar,
  YAMLMap,
  YAMLSeq,
  type Pair,
  type ToStringOptions,
} from 'yaml';

export interface GroupsFile {
  path: string;
  /** Group name → member aliases; insertion order = file order. */
  groups: ReadonlyMap<string, readonly string[]>;
  /** Things that were left out or look wrong, each with `line:col`. */
  warnings: string[];
  /** Members left out because they cannot be a host alias (`-oProxyCommand=…`, `a;b`): a run on the group is refused. */
  rejectedMembers: { group: string; member: string; at: string }[];
}

export class GroupsFileError extends Error {
  constructor(
    message: string,
    readonly path: string,
    readonly line?: number,
    readonly col?: number,
  ) {
    super(message);
    this.name = 'GroupsFileError';
  }
}

/** A group name or alias the user typed that cannot be used; the message says what to do. */
export class GroupNameError extends Error {
  override name = 'GroupNameError';
}

// ---------------------------------------------------------------------------------------------
// Locating the file

export function defaultGroupsPaths(homeDir: string): string[] {
  const dir = nodePath.join(homeDir, '.config', 'sshsync');
  // sshsync's README names config.yaml, its code reads config.yml: accept both.
  return [nodePath.join(dir, 'config.yaml'), nodePath.join(dir, 'config.yml')];
}

/** The configured path (with `~` expanded) if set, else the first default file that exists. */
export async function findGroupsFile(
  configured: string | undefined,
  homeDir: string,
): Promise<string | undefined> {
  const setting = configured?.trim();
  if (setting) {
    const expanded = expandHome(setting, homeDir);
    if (!nodePath.isAbsolute(expanded)) {
      throw new GroupsFileError(
        `Groups file setting ${JSON.stringify(setting)} is not an absolute path; use a full path or one starting with ~/`,
        setting,
      );
    }
    return expanded;
  }
  for (const candidate of defaultGroupsPaths(homeDir)) {
    if (await isFile(candidate)) return candidate;
  }
  return undefined;
}

function expandHome(p: string, homeDir: string): string {
  if (p === '~') return homeDir;
  if (p.startsWith('~/') || p.startsWith('~\\')) return nodePath.join(homeDir, p.slice(2));
  return p;
}

async function isFile(p: string): Promise<boolean> {
  try {
    return (await fs.stat(p)).isFile();
  } catch {
    return false;
  }
}

// ---------------------------------------------------------------------------------------------
// Names

const CONTROL_CHARS = /[\u0000-\u001f\u007f-\u009f]/;

export function validateGroupName(name: string): void {
  const shown = JSON.stringify(name);
  if (name.length === 0) throw new GroupNameError('Group name is empty; type a name such as "web".');
  if (CONTROL_CHARS.test(name)) {
    throw new GroupNameError(`Group name ${shown} contains control characters; use letters, digits, "-", "_" or ".".`);
  }
  if (name.trim() !== name) {
    throw new GroupNameError(`Group name ${shown} starts or ends with whitespace; remove it.`);
  }
  if (name.toLowerCase() === 'all') {
    throw new GroupNameError('"all" is reserved: as a run target it means every host. Pick another name, e.g. "all-servers".');
  }
  if (name.includes(',')) {
    throw new GroupNameError(
      `Group name ${shown} contains ",", which separates targets (as in "web,db"); use "-" or "_" instead.`,
    );
  }
  if (name.startsWith('-')) {
    throw new GroupNameError(`Group name ${shown} starts with "-" and would read as an option; start it with a letter or digit.`);
  }
}

/** Why `alias` cannot be a group member, or undefined when it can. */
function aliasProblem(alias: string): string | undefined {
  if (alias.length === 0) return 'is empty';
  if (CONTROL_CHARS.test(alias)) return 'contains control characters';
  if (/\s/.test(alias)) return 'contains whitespace, which no ssh Host alias can';
  // An alias starting with '-' would be read as an option if it ever reached an ssh command line.
  if (alias.startsWith('-')) return 'starts with "-"';
  return undefined;
}

function validateAliases(aliases: readonly string[]): void {
  for (const alias of aliases) {
    const problem = aliasProblem(alias);
    if (problem) throw new GroupNameError(`Host alias ${JSON.stringify(alias)} ${problem}; use the alias as written in ~/.ssh/config.`);
  }
}

// ---------------------------------------------------------------------------------------------
// Parsing and shape checks

// sshsync reads the file with PyYAML, i.e. YAML 1.1: `on`/`yes` are booleans there, so read them the
// same way, and when writing, the 1.1 schema quotes such strings so sshsync still sees strings.
const PARSE_OPTIONS = { version: '1.1', prettyErrors: false, uniqueKeys: true } as const;

interface Parsed {
  doc: Document;
  lines: LineCounter;
  path: string;
}

interface GroupEntry {
  name: string;
  pair: Pair<unknown, unknown>;
}

function parse(text: string, path: string): Parsed {
  const lines = new LineCounter();
  const doc: Document = parseDocument(text, { ...PARSE_OPTIONS, lineCounter: lines });
  const err = doc.errors[0];
  if (err) {
    const { line, col } = lines.linePos(err.pos[0]);
    throw new GroupsFileError(`${path}:${line}:${col}: malformed YAML: ${err.message}`, path, line, col);
  }
  return { doc, lines, path };
}

function position(p: Parsed, node: unknown): { line?: number; col?: number; at: string } {
  const range = (node as { range?: [number, number, number] } | null)?.range;
  if (!range) return { at: '' };
  const { line, col } = p.lines.linePos(range[0]);
  return { line, col, at: `${line}:${col}` };
}

function shapeError(p: Parsed, node: unknown, message: string): GroupsFileError {
  const { line, col, at } = position(p, node);
  return new GroupsFileError(`${p.path}${at ? ':' + at : ''}: ${message}`, p.path, line, col);
}

/** Follows a YAML alias (`*x`) one step; our walk never expands nested aliases, so alias bombs stay flat. */
function deref(p: Parsed | { doc: Document }, node: unknown): unknown {
  return isAlias(node) ? node.resolve(p.doc) : node;
}

function isNullNode(node: unknown): boolean {
  return node === null || node === undefined || (isScalar(node) && node.value === null);
}

function describe(node: unknown): string {
  if (isMap(node)) return 'a mapping';
  if (isSeq(node)) return 'a list';
  if (isNullNode(node)) return 'empty';
  if (isScalar(node)) return `${typeof node.value} ${JSON.stringify(String(node.value))} (quote it if it is meant as text)`;
  return 'an unexpected node';
}

/** The `groups:` mapping, or undefined when the file has none (an empty or group-less file). */
function groupsNode(p: Parsed): YAMLMap | undefined {
  const root = p.doc.contents;
  if (isNullNode(root)) return undefined;
  if (!isMap(root)) throw shapeError(p, root, `the file must be a mapping with a "groups:" key, found ${describe(root)}`);
  const value = deref(p, root.get('groups', true));
  if (isNullNode(value)) return undefined;
  if (!isMap(value)) {
    throw shapeError(p, value, `"groups" must map each group name to a list of host aliases, found ${describe(value)}`);
  }
  return value;
}

function groupName(p: Parsed, pair: Pair<unknown, unknown>): string {
  const key = deref(p, pair.key);
  if (isScalar(key) && typeof key.value === 'string') return key.value;
  throw shapeError(p, key ?? pair.value, `group name must be text, found ${describe(key)}`);
}

function entries(p: Parsed, groups: YAMLMap | undefined): GroupEntry[] {
  return (groups?.items ?? []).map((pair) => ({ name: groupName(p, pair), pair }));
}

/** Members of one group; wrong shapes throw, unusable strings become warnings. */
function readMembers(p: Parsed, entry: GroupEntry, warnings: string[], rejected: GroupsFile['rejectedMembers']): string[] {
  const shown = JSON.stringify(entry.name);
  const value = deref(p, entry.pair.value);
  if (isNullNode(value)) return [];
  if (!isSeq(value)) {
    throw shapeError(p, value, `group ${shown}: members must be a list such as [host1, host2], found ${describe(value)}`);
  }
  const members: string[] = [];
  for (const item of value.items) {
    const node = deref(p, item);
    if (!isScalar(node) || typeof node.value !== 'string') {
      throw shapeError(p, node ?? value, `group ${shown}: each member must be a host alias, found ${describe(node)}`);
    }
    const problem = aliasProblem(node.value);
    const { at } = position(p, node);
    if (problem) {
      warnings.push(`${at}: group ${shown}: member ${JSON.stringify(node.value)} ${problem}; left out`);
      rejected.push({ group: entry.name, member: node.value, at });
    } else if (members.includes(node.value)) {
      warnings.push(`${at}: group ${shown}: ${JSON.stringify(node.value)} is listed twice`);
    } else {
      members.push(node.value);
    }
  }
  return members;
}

function collect(p: Parsed): Omit<GroupsFile, 'path'> {
  const warnings = p.doc.warnings.map((w) => {
    const { line, col } = p.lines.linePos(w.pos[0]);
    return `${line}:${col}: ${w.message}`;
  });
  const groups = new Map<string, string[]>();
  const rejectedMembers: GroupsFile['rejectedMembers'] = [];
  for (const entry of entries(p, groupsNode(p))) {
    const members = readMembers(p, entry, warnings, rejectedMembers);
    try {
      validateGroupName(entry.name);
    } catch (err) {
      warnings.push(`${position(p, entry.pair.key).at}: ${(err as Error).message} The group is not usable as a target until renamed.`);
      continue;
    }
    groups.set(entry.name, members);
  }
  return { groups, warnings, rejectedMembers };
}

export async function loadGroups(path: string): Promise<GroupsFile> {
  const text = await readIfExists(path);
  if (text === undefined) return { path, groups: new Map(), warnings: [], rejectedMembers: [] };
  return { path, ...collect(parse(text, path)) };
}

/** Members whose alias is not (or no longer) in the ssh config; reported, never removed. */
export function flagUnknownMembers(
  groups: GroupsFile,
  knownAliases: ReadonlySet<string>,
): { group: string; alias: string }[] {
  const flagged: { group: string; alias: string }[] = [];
  for (const [group, members] of groups.groups) {
    for (const alias of members) if (!knownAliases.has(alias)) flagged.push({ group, alias });
  }
  return flagged;
}

// ---------------------------------------------------------------------------------------------
// Editing

export async function addToGroup(path: string, group: string, aliases: readonly string[]): Promise<void> {
  validateGroupName(group);
  validateAliases(aliases);
  await editGroups(path, (edit) => {
    const seq = edit.members(group) ?? edit.create(group);
    const present = new Set(seq.items.map((item) => scalarText(edit, item)));
    for (const alias of aliases) {
      if (present.has(alias)) continue;
      present.add(alias);
      seq.add(new Scalar(alias));
    }
  });
}

export async function removeFromGroup(path: string, group: string, aliases: readonly string[]): Promise<void> {
  await editGroups(path, (edit) => {
    const seq = edit.members(group);
    if (!seq) throw edit.missing(group);
    const drop = new Set(aliases);
    seq.items = seq.items.filter((item) => !drop.has(scalarText(edit, item) ?? ''));
  });
}

export async function createGroup(path: string, group: string): Promise<void> {
  validateGroupName(group);
  await editGroups(path, (edit) => {
    if (edit.find(group)) throw new GroupsFileError(`Group ${JSON.stringify(group)} already exists in ${path}.`, path);
    edit.create(group);
  });
}

export async function renameGroup(path: string, from: string, to: string): Promise<void> {
  validateGroupName(to);
  await editGroups(path, (edit) => {
    const entry = edit.find(from);
    if (!entry) throw edit.missing(from);
    if (from === to) return;
    if (edit.find(to)) throw new GroupsFileError(`Group ${JSON.stringify(to)} already exists in ${path}; pick another name.`, path);
    // Change the key scalar in place: comments above the group and its position belong to it.
    const key = entry.pair.key;
    if (isScalar(key)) key.value = to;
    else entry.pair.key = new Scalar(to);
  });
}

export async function deleteGroup(path: string, group: string): Promise<void> {
  await editGroups(path, (edit) => {
    const entry = edit.find(group);
    if (!entry) throw edit.missing(group);
    edit.groups.items = edit.groups.items.filter((pair) => pair !== entry.pair);
  });
}

function scalarText(edit: { doc: Document }, item: unknown): string | undefined {
  const node = deref(edit, item);
  return isScalar(node) && typeof node.value === 'string' ? node.value : undefined;
}

class GroupsEdit {
  constructor(
    readonly parsed: Parsed,
    readonly groups: YAMLMap,
    private readonly flowLists: boolean,
  ) {}

  private readonly wasEmpty = new Set<YAMLSeq>();

  get doc(): Document {
    return this.parsed.doc;
  }

  find(name: string): GroupEntry | undefined {
    return entries(this.parsed, this.groups).find((entry) => entry.name === name);
  }

  /** The group's list, ready to edit (null value or alias replaced by an own list); undefined if no such group. */
  members(name: string): YAMLSeq | undefined {
    const entry = this.find(name);
    if (!entry) return undefined;
    const value = deref(this.parsed, entry.pair.value);
    if (isSeq(value)) {
      // Editing through `*alias` would also change the anchored list; give this group its own copy.
      const own = value === entry.pair.value ? value : (value.clone() as YAMLSeq);
      entry.pair.value = own;
      if (own.items.length === 0) this.wasEmpty.add(own);
      return own;
    }
    const seq = this.newList();
    entry.pair.value = seq;
    return seq;
  }

  create(name: string): YAMLSeq {
    const seq = this.newList();
    this.groups.add(this.doc.createPair(name, seq));
    return seq;
  }

  /** Empty lists print as `[]`; a list that was empty takes the file's usual style once it has members. */
  settleListStyles(): void {
    for (const pair of this.groups.items) {
      const value = pair.value;
      if (!isSeq(value)) continue;
      if (value.items.length === 0) value.flow = true;
      else if (this.wasEmpty.has(value)) value.flow = this.flowLists;
    }
  }

  missing(name: string): GroupsFileError {
    return new GroupsFileError(`No group named ${JSON.stringify(name)} in ${this.parsed.path}.`, this.parsed.path);
  }

  private newList(): YAMLSeq {
    const seq = new YAMLSeq();
    this.wasEmpty.add(seq);
    return seq;
  }
}

/** Layout of the existing file, so a rewrite only changes the lines that were edited. */
interface Layout {
  indent: number;
  indentSeq: boolean;
  flowPadding: boolean;
  flowLists: boolean;
}

function detectLayout(p: Parsed, text: string, groups: YAMLMap | undefined): Layout {
  // Defaults are what sshsync (PyYAML) itself writes: `groups:\n  web:\n  - host1`.
  const layout: Layout = { indent: 2, indentSeq: false, flowPadding: false, flowLists: false };
  const root = p.doc.contents;
  if (isMap(root) && groups && !groups.flow) {
    const groupsPair = root.items.find((pair) => isScalar(pair.key) && pair.key.value === 'groups');
    const first = groups.items[0];
    const parentCol = position(p, groupsPair?.key).col;
    const childCol = position(p, first?.key).col;
    if (parentCol !== undefined && childCol !== undefined && childCol > parentCol) layout.indent = childCol - parentCol;
  }
  let seenList = false;
  for (const pair of groups?.items ?? []) {
    const value = pair.value;
    if (!isSeq(value) || value.items.length === 0) continue;
    if (!seenList) layout.flowLists = value.flow === true;
    seenList = true;
    if (!value.flow) {
      // PyYAML writes block lists at the key's column ("web:\n- a"); keep whichever the file uses.
      layout.indentSeq = position(p, value).col !== position(p, pair.key).col;
    }
  }
  const flowRange = findFlowCollection(root)?.range;
  if (flowRange) layout.flowPadding = text[flowRange[0] + 1] === ' ';
  return layout;
}

function findFlowCollection(node: unknown): YAMLMap | YAMLSeq | undefined {
  if (!isCollection(node)) return undefined;
  if (node.flow && node.items.length > 0) return node;
  for (const item of node.items) {
    const found = isPair(item) ? findFlowCollection(item.key) ?? findFlowCollection(item.value) : findFlowCollection(item);
    if (found) return found;
  }
  return undefined;
}

function toText(doc: Document, layout: Layout): string {
  const options: ToStringOptions = {
    indent: layout.indent,
    indentSeq: layout.indentSeq,
    flowCollectionPadding: layout.flowPadding,
    lineWidth: 0, // never re-fold: long lines stay long, flow lists stay on one line
  };
  return doc.toString(options);
}

const MAX_ATTEMPTS = 3;

/** Reads the file fresh, applies `change`, and writes it back atomically (creating file and dir if needed). */
async function editGroups(path: string, change: (edit: GroupsEdit) => void): Promise<void> {
  await serialized(nodePath.resolve(path), async () => {
    const target = await writeTarget(path);
    for (let attempt = 1; ; attempt++) {
      const before = await readIfExists(target);
      const parsed = parse(before ?? '', path);
      collect(parsed); // refuse to edit a file whose shape we do not understand
      const groups = ensureGroupsMap(parsed);
      const layout = detectLayout(parsed, before ?? '', groupsNode(parsed));
      const edit = new GroupsEdit(parsed, groups, layout.flowLists);
      change(edit);
      edit.settleListStyles();
      const after = toText(parsed.doc, layout);
      if (after === before) return;
      // sshsync or an editor may have written meanwhile: redo the edit on the new content.
      if ((await readIfExists(target)) !== before) {
        if (attempt < MAX_ATTEMPTS) continue;
        throw new GroupsFileError(`${path} kept changing while it was being edited; try again.`, path);
      }
      await writeAtomically(target, after);
      return;
    }
  });
}

function ensureGroupsMap(p: Parsed): YAMLMap {
  const existing = groupsNode(p);
  const root = p.doc.contents;
  if (isMap(root)) {
    const pair = root.items.find((item) => isScalar(item.key) && item.key.value === 'groups');
    if (existing) {
      if (pair && pair.value !== existing) pair.value = existing.clone(); // was `groups: *alias`
      return (pair?.value as YAMLMap | undefined) ?? existing;
    }
    const map = new YAMLMap();
    if (pair) pair.value = map;
    else root.add(p.doc.createPair('groups', map));
    return map;
  }
  // Empty (or comments-only) file: comments stay on the document, contents become `groups:`.
  const map = new YAMLMap();
  const newRoot = new YAMLMap();
  newRoot.add(p.doc.createPair('groups', map));
  p.doc.contents = newRoot;
  return map;
}

// ---------------------------------------------------------------------------------------------
// File I/O

/** A groups file is a short list; anything bigger (or a device that never ends) is refused before it is parsed. */
export const MAX_GROUPS_FILE_BYTES = 4 * 1024 * 1024;

async function readIfExists(path: string): Promise<string | undefined> {
  let handle;
  try {
    handle = await fs.open(path, 'r');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  try {
    const text = await readAtMost(handle, MAX_GROUPS_FILE_BYTES);
    if (text === undefined) {
      throw new GroupsFileError(`the groups file is larger than ${MAX_GROUPS_FILE_BYTES / 1048576} MiB (or never ends); a groups file lists host aliases — check that this is the right file`, path);
    }
    return text;
  } finally {
    await handle.close();
  }
}

/** The real file behind `path`: renaming onto a symlink (e.g. dotfiles managed by stow) would replace the link. */
async function writeTarget(path: string): Promise<string> {
  try {
    return await fs.realpath(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return nodePath.resolve(path);
    throw err;
  }
}

async function writeAtomically(target: string, text: string): Promise<void> {
  const dir = nodePath.dirname(target);
  await fs.mkdir(dir, { recursive: true });
  let mode: number | undefined;
  try {
    mode = (await fs.stat(target)).mode & 0o7777;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  const temp = nodePath.join(dir, `.${nodePath.basename(target)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
  try {
    const handle = await fs.open(temp, 'wx', mode ?? 0o666);
    try {
      await handle.writeFile(text, 'utf8');
      if (mode !== undefined) await handle.chmod(mode); // open()'s mode is filtered by the umask
      await handle.sync();
    } finally {
      await handle.close();
    }
    await fs.rename(temp, target);
  } catch (err) {
    await fs.rm(temp, { force: true });
    throw err;
  }
}

const queues = new Map<string, Promise<unknown>>();

/** Runs edits of one file one after another within this process. */
function serialized<T>(key: string, task: () => Promise<T>): Promise<T> {
  const previous = queues.get(key) ?? Promise.resolve();
  const result = previous.then(task, task);
  const tail = result.catch(() => undefined);
  queues.set(key, tail);
  void tail.then(() => {
    if (queues.get(key) === tail) queues.delete(key);
  });
  return result;
}
