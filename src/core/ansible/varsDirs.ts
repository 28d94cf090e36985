// group_vars/ and host_vars/ beside an inventory file, as Ansible's host_group_vars plugin finds them:
// NAME, NAME.yml, NAME.yaml, NAME.json, or a directory NAME/ read recursively in sorted order.
import { readdir, readFile, stat } from 'node:fs/promises';
import { extname, join } from 'node:path';
import { isMap, isNode, isScalar } from 'yaml';
import { type AnsibleInventory, type AnsibleVar, AnsibleInventoryError } from './model';
import { parseYamlInventory } from './yaml';

const EXTENSIONS = ['', '.yml', '.yaml', '.json'];

async function kind(path: string): Promise<'file' | 'dir' | undefined> {
  try {
    const s = await stat(path);
    return s.isDirectory() ? 'dir' : s.isFile() ? 'file' : undefined;
  } catch {
    return undefined;
  }
}

async function dirFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of (await readdir(dir)).sort()) {
    if (entry.startsWith('.') || entry.endsWith('~')) continue;
    const full = join(dir, entry);
    const ext = extname(entry);
    const k = await kind(full);
    if (k === 'dir' && !ext) out.push(...(await dirFiles(full)));
    else if (k === 'file' && EXTENSIONS.includes(ext)) out.push(full);
  }
  return out;
}

async function varsFiles(dir: string, name: string): Promise<string[]> {
  for (const ext of EXTENSIONS) {
    const path = join(dir, name + ext);
    const k = await kind(path);
    if (k === 'dir') return dirFiles(path);
    if (k === 'file') return [path];
  }
  return [];
}

async function readVarsFile(path: string, warnings: string[]): Promise<Map<string, AnsibleVar>> {
  const out = new Map<string, AnsibleVar>();
  const text = await readFile(path, 'utf8');
  if (text.startsWith('$ANSIBLE_VAULT')) {
    warnings.push(`${path}: vault-encrypted vars are not read by Flotilla; connection settings in it are not applied`);
    return out;
  }
  const { doc, lines } = parseYamlInventory(text, path);
  const root = doc.contents;
  if (root === null || (isScalar(root) && root.value === null)) return out;
  if (!isMap(root)) throw new AnsibleInventoryError('a vars file must be a mapping of variable names to values', path, 1);
  for (const pair of root.items) {
    const key = isScalar(pair.key) ? String(pair.key.value) : undefined;
    if (key === undefined) continue;
    const range = (pair.key as { range?: [number, number, number] }).range;
    const value = isNode(pair.value) ? pair.value.toJS(doc, { maxAliasCount: 100 }) : null;
    out.set(key, { value, source: { file: path, line: range ? lines.linePos(range[0]).line : 0 } });
  }
  return out;
}

/** Applies `basedir/group_vars` and `basedir/host_vars` to every group and host of `inv`. */
export async function applyVarsDirs(inv: AnsibleInventory, basedir: string): Promise<void> {
  const targets = [
    ...[...inv.groups.values()].map((g) => ({ sub: 'group_vars', name: g.name, vars: g.dirVars })),
    ...[...inv.hosts.values()].map((h) => ({ sub: 'host_vars', name: h.name, vars: h.dirVars })),
  ];
  for (const sub of ['group_vars', 'host_vars']) {
    const dir = join(basedir, sub);
    const k = await kind(dir);
    if (k === undefined) continue;
    if (k !== 'dir') {
      inv.warnings.push(`${dir} is not a directory; skipped`);
      continue;
    }
    for (const t of targets.filter((x) => x.sub === sub && !x.name.startsWith('/'))) {
      for (const file of await varsFiles(dir, t.name)) {
        for (const [key, v] of await readVarsFile(file, inv.warnings)) t.vars.set(key, v);
      }
    }
  }
}
