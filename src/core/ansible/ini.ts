// Ansible's INI inventory format, read the way ansible-core 2.14's ini plugin reads it: lines before any
// section are ungrouped hosts, [g] hosts, [g:vars] key=value, [g:children] group names (declared
// before or after), with every problem reported as file:line.
import { expandHostPattern } from './hostPattern';
import { AnsibleInventory, AnsibleInventoryError } from './model';
import { pythonLiteral, shellWords } from './values';

const SECTION = /^\[([^:\]\s]+)(?::(\w+))?\]\s*(?:#.*)?$/;
const GROUP_NAME = /^([^:\]\s]+)\s*(?:#.*)?$/;

interface Pending {
  line: number;
  state: 'vars' | 'children';
  parents: string[];
}

export function readIniInventory(inv: AnsibleInventory, text: string, file: string): void {
  const pending = new Map<string, Pending>();
  let group = 'ungrouped';
  let state = 'hosts';
  const lines = text.split(/\r?\n|\r/);
  for (let i = 0; i < lines.length; i++) {
    const lineNo = i + 1;
    const line = lines[i]!.trim();
    const fail = (message: string) => new AnsibleInventoryError(message, file, lineNo);
    const at = { file, line: lineNo };
    if (!line || line.startsWith('#') || line.startsWith(';')) continue;
    const section = SECTION.exec(line);
    if (section) {
      group = section[1]!;
      state = section[2] ?? 'hosts';
      if (!['hosts', 'children', 'vars'].includes(state)) throw fail(`section [${line.slice(1, line.indexOf(']'))}] has unknown type "${state}": use [${group}], [${group}:vars] or [${group}:children]`);
      if (!inv.groups.has(group)) {
        if (state === 'vars' && !pending.has(group)) pending.set(group, { line: lineNo, state: 'vars', parents: [] });
        inv.addGroup(group, at);
      } else {
        inv.groups.get(group)!.source ??= at;
      }
      const waiting = pending.get(group);
      if (waiting && state !== 'vars') {
        if (waiting.state === 'children') addPendingChildren(inv, group, pending, at);
        else pending.delete(group);
      }
      continue;
    }
    if (line.startsWith('[') && line.endsWith(']')) {
      throw fail(`invalid section ${line}: a section is [name], [name:vars] or [name:children], with no spaces in it`);
    }
    if (state === 'hosts') {
      let words: string[];
      try {
        words = shellWords(line);
      } catch (err) {
        throw fail(`cannot parse host line ${JSON.stringify(line)}: ${(err as Error).message}`);
      }
      if (words.length === 0) continue;
      const pattern = words[0]!;
      let names: string[];
      let port: number | undefined;
      try {
        ({ names, port } = expandHostPattern(pattern));
      } catch (err) {
        throw fail(`host pattern ${JSON.stringify(pattern)}: ${(err as Error).message}`);
      }
      if (pattern.trim().endsWith(':') && port === undefined) throw fail(`host pattern ${JSON.stringify(pattern)} ends in ":", which is reserved for a port`);
      if (names.includes('---')) throw fail('"---" is not a host: this looks like a YAML file; name it .yml or .yaml');
      const vars: [string, unknown][] = [];
      for (const word of words.slice(1)) {
        const eq = word.indexOf('=');
        if (eq < 0) throw fail(`expected key=value after the host, got ${JSON.stringify(word)}`);
        vars.push([word.slice(0, eq), pythonLiteral(word.slice(eq + 1))]);
      }
      for (const name of names) {
        inv.addHost(name, at, group);
        if (port !== undefined) inv.setHostVar(name, 'ansible_port', port, at);
        for (const [k, v] of vars) inv.setHostVar(name, k, v, at);
      }
    } else if (state === 'vars') {
      const eq = line.indexOf('=');
      if (eq < 0) throw fail(`expected key=value in [${group}:vars], got ${JSON.stringify(line)}`);
      inv.setGroupVar(group, line.slice(0, eq).trim(), pythonLiteral(line.slice(eq + 1).trim()), at);
    } else {
      const child = GROUP_NAME.exec(line)?.[1];
      if (!child) throw fail(`expected a group name in [${group}:children], got ${JSON.stringify(line)}`);
      if (inv.groups.has(child)) inv.addChild(group, child, at);
      else {
        const waiting = pending.get(child);
        if (waiting) waiting.parents.push(group);
        else pending.set(child, { line: lineNo, state: 'children', parents: [group] });
      }
    }
  }
  for (const [name, p] of pending) {
    if (p.state === 'vars') throw new AnsibleInventoryError(`[${name}:vars] is for a group that is never defined: add a [${name}] or [${name}:children] section`, file, p.line);
    throw new AnsibleInventoryError(`[${p.parents.at(-1)}:children] names group "${name}", which is never defined: add a [${name}] section`, file, p.line);
  }
}

function addPendingChildren(inv: AnsibleInventory, group: string, pending: Map<string, Pending>, at: { file: string; line: number }): void {
  for (const parent of pending.get(group)!.parents) {
    inv.addChild(parent, group, at);
    if (pending.get(parent)?.state === 'children') addPendingChildren(inv, parent, pending, at);
  }
  pending.delete(group);
}
