// Ansible's YAML inventory format (`all: {hosts: {h: {vars}}, children: {g: {...}}, vars: {...}}`), read the
// way ansible-core 2.14's yaml plugin reads it, with file:line for every group, host and variable.
import { isAlias, isMap, isNode, isScalar, LineCounter, parseDocument, type Document, type Node, type Pair } from 'yaml';
import { expandHostPattern } from './hostPattern';
import { AnsibleInventory, AnsibleInventoryError } from './model';

// Ansible reads inventories with PyYAML: YAML 1.1 (yes/no/on/off are booleans).
const PARSE_OPTIONS = { version: '1.1', prettyErrors: false, uniqueKeys: false } as const;

interface Ctx {
  inv: AnsibleInventory;
  doc: Document;
  lines: LineCounter;
  file: string;
}

export function parseYamlInventory(text: string, file: string): { doc: Document; lines: LineCounter } {
  const lines = new LineCounter();
  const doc = parseDocument(text, { ...PARSE_OPTIONS, lineCounter: lines });
  const err = doc.errors[0];
  if (err) throw new AnsibleInventoryError(`malformed YAML: ${err.message.split('\n')[0]}`, file, lines.linePos(err.pos[0]).line);
  return { doc, lines };
}

/** Whether the parsed document is an inventory plugin configuration (`plugin: NAME`), which runs code. */
export function pluginName(doc: Document): string | undefined {
  const root = doc.contents;
  if (!isMap(root)) return undefined;
  const value = root.get('plugin', true);
  return isScalar(value) && value.value ? String(value.value) : undefined;
}

export function readYamlInventory(inv: AnsibleInventory, text: string, file: string): void {
  const { doc, lines } = parseYamlInventory(text, file);
  const ctx: Ctx = { inv, doc, lines, file };
  const root = deref(ctx, doc.contents);
  if (isNull(root)) throw new AnsibleInventoryError('the YAML inventory is empty: start it with "all:"', file, 1);
  if (!isMap(root)) throw error(ctx, root, `a YAML inventory must be a mapping of group names (usually "all:"), found ${kind(root)}`);
  if (pluginName(doc)) throw error(ctx, root, 'this is an inventory plugin configuration (it has "plugin:"), not a YAML inventory');
  for (const pair of root.items) readGroup(ctx, pair);
}

function readGroup(ctx: Ctx, pair: Pair): string | undefined {
  const name = keyText(ctx, pair);
  const data = deref(ctx, pair.value);
  const at = { file: ctx.file, line: lineOf(ctx, pair.key) };
  if (!isNull(data) && !isMap(data)) {
    ctx.inv.warnings.push(`${ctx.file}:${at.line}: "${name}" is not a group definition (it is ${kind(data)}); skipped`);
    return undefined;
  }
  const group = ctx.inv.addGroup(name, at);
  group.source ??= at;
  if (!isMap(data)) return name;
  for (const section of data.items) {
    const key = keyText(ctx, section);
    let value = deref(ctx, section.value);
    const sectionLine = lineOf(ctx, section.key);
    if (['vars', 'children', 'hosts'].includes(key) && isScalar(value) && value.value !== null) {
      // A bare string is allowed and means {string: null}.
      value = ctx.doc.createNode({ [String(value.value)]: null }) as Node;
      (value as Node).range = (section.value as Node).range;
    }
    if (isNull(value)) continue;
    if (!isMap(value)) {
      if (['vars', 'children', 'hosts'].includes(key)) throw error(ctx, value, `"${key}" of group "${name}" must be a mapping, found ${kind(value)}`);
      ctx.inv.warnings.push(`${ctx.file}:${sectionLine}: key "${key}" of group "${name}" is not a mapping; skipped`);
      continue;
    }
    if (key === 'vars') {
      for (const v of value.items) ctx.inv.setGroupVar(name, keyText(ctx, v), toJs(ctx, v.value), { file: ctx.file, line: lineOf(ctx, v.key) });
    } else if (key === 'children') {
      for (const child of value.items) {
        const childName = readGroup(ctx, child);
        if (childName !== undefined) ctx.inv.addChild(name, childName, { file: ctx.file, line: lineOf(ctx, child.key) });
      }
    } else if (key === 'hosts') {
      for (const h of value.items) readHost(ctx, name, h);
    } else {
      ctx.inv.warnings.push(`${ctx.file}:${sectionLine}: unexpected key "${key}" in group "${name}" (only vars, children and hosts are read); skipped`);
    }
  }
  return name;
}

function readHost(ctx: Ctx, group: string, pair: Pair): void {
  const key = deref(ctx, pair.key);
  if (!isScalar(key) || typeof key.value !== 'string') {
    throw error(ctx, key, `host pattern ${JSON.stringify(isScalar(key) ? key.value : null)} must be a string: put it in quotes`);
  }
  const at = { file: ctx.file, line: lineOf(ctx, key) };
  let expanded: { names: string[]; port?: number };
  try {
    expanded = expandHostPattern(key.value);
  } catch (err) {
    throw error(ctx, key, `host pattern ${JSON.stringify(key.value)}: ${(err as Error).message}`);
  }
  const vars = deref(ctx, pair.value);
  if (!isNull(vars) && !isMap(vars)) throw error(ctx, vars, `variables of host "${key.value}" must be a mapping, found ${kind(vars)}`);
  for (const name of expanded.names) {
    ctx.inv.addHost(name, at, group);
    if (expanded.port !== undefined) ctx.inv.setHostVar(name, 'ansible_port', expanded.port, at);
    if (isMap(vars)) for (const v of vars.items) ctx.inv.setHostVar(name, keyText(ctx, v), toJs(ctx, v.value), { file: ctx.file, line: lineOf(ctx, v.key) });
  }
}

function deref(ctx: Pick<Ctx, 'doc'>, node: unknown): unknown {
  return isAlias(node) ? node.resolve(ctx.doc) : node;
}

function isNull(node: unknown): boolean {
  return node === null || node === undefined || (isScalar(node) && node.value === null);
}

function kind(node: unknown): string {
  if (isMap(node)) return 'a mapping';
  if (isScalar(node)) return `${typeof node.value} ${JSON.stringify(node.value)}`;
  return 'a list';
}

function keyText(ctx: Ctx, pair: Pair): string {
  const key = deref(ctx, pair.key);
  if (isScalar(key) && key.value !== null && typeof key.value !== 'object') return String(key.value);
  throw error(ctx, key ?? pair.value, 'a key here must be a plain name');
}

function toJs(ctx: Ctx, node: unknown): unknown {
  const n = deref(ctx, node);
  return isNode(n) ? n.toJS(ctx.doc, { maxAliasCount: 100 }) : null;
}

function lineOf(ctx: Ctx, node: unknown): number {
  const range = (node as { range?: [number, number, number] } | null)?.range;
  return range ? ctx.lines.linePos(range[0]).line : 0;
}

function error(ctx: Ctx, node: unknown, message: string): AnsibleInventoryError {
  return new AnsibleInventoryError(message, ctx.file, lineOf(ctx, node) || undefined);
}
