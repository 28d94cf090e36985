// An Ansible inventory as Ansible's InventoryData builds it (ansible-core 2.14 inventory/data.py and
// group.py): groups with children and direct hosts, `all` and `ungrouped` implicit, variables with the
// file:line they came from, and the variable precedence Ansible applies per host.
import type { ConfigSource } from '../types';

export interface AnsibleVar {
  readonly value: unknown;
  /** Where it was set; `line` 0 when the source has no line numbers (ansible-inventory JSON). */
  readonly source: ConfigSource;
}

export interface AnsibleGroup {
  readonly name: string;
  /** Direct members, in the order first added. */
  readonly hosts: string[];
  readonly children: string[];
  readonly parents: string[];
  readonly vars: Map<string, AnsibleVar>;
  /** From group_vars/NAME beside the inventory (the host_group_vars plugin): above every group's inventory vars. */
  readonly dirVars: Map<string, AnsibleVar>;
  /** `ansible_group_priority` (default 1): orders groups of equal depth when their vars are combined. */
  priority: number;
  source?: ConfigSource;
}

export interface AnsibleHost {
  readonly name: string;
  readonly vars: Map<string, AnsibleVar>;
  /** From host_vars/NAME beside the inventory: above everything else. */
  readonly dirVars: Map<string, AnsibleVar>;
  /** Groups that list the host directly. */
  readonly groups: string[];
  readonly source: ConfigSource;
}

/** A malformed inventory; the message starts with `file:line:` when the line is known. */
export class AnsibleInventoryError extends Error {
  override name = 'AnsibleInventoryError';
  constructor(
    message: string,
    readonly file: string,
    readonly line?: number,
  ) {
    super(`${file}${line ? `:${line}` : ''}: ${message}`);
  }
}

export class AnsibleInventory {
  readonly groups = new Map<string, AnsibleGroup>();
  readonly hosts = new Map<string, AnsibleHost>();
  readonly warnings: string[] = [];
  /** Depth and ancestors per group; cleared whenever the group graph changes. */
  private readonly depths = new Map<string, number>();
  private readonly ancestorSets = new Map<string, ReadonlySet<string>>();

  constructor(readonly sources: readonly string[]) {
    this.addGroup('all');
    this.addGroup('ungrouped');
    this.addChild('all', 'ungrouped');
  }

  addGroup(name: string, source?: ConfigSource): AnsibleGroup {
    let g = this.groups.get(name);
    if (!g) {
      g = { name, hosts: [], children: [], parents: [], vars: new Map(), dirVars: new Map(), priority: 1, source };
      this.groups.set(name, g);
    }
    return g;
  }

  /** Adds the host (first definition gives its source) and, with `group`, makes it a direct member. */
  addHost(name: string, source: ConfigSource, group?: string): AnsibleHost {
    let h = this.hosts.get(name);
    if (!h) {
      h = { name, vars: new Map(), dirVars: new Map(), groups: [], source };
      this.hosts.set(name, h);
    }
    if (group !== undefined) {
      const g = this.groups.get(group)!;
      if (!g.hosts.includes(name)) {
        g.hosts.push(name);
        h.groups.push(group);
      }
    }
    return h;
  }

  /** `parent` gains child group `child`; a loop is an error naming both, as Ansible's is. */
  addChild(parent: string, child: string, where?: ConfigSource): void {
    const p = this.groups.get(parent)!;
    const c = this.groups.get(child)!;
    if (p.children.includes(child)) return;
    if (parent === child || this.ancestors(parent).has(child)) {
      const message = `adding group "${child}" as a child of "${parent}" creates a dependency loop`;
      throw where ? new AnsibleInventoryError(message, where.file, where.line) : new Error(message);
    }
    p.children.push(child);
    c.parents.push(parent);
    this.depths.clear();
    this.ancestorSets.clear();
  }

  setGroupVar(group: string, key: string, value: unknown, source: ConfigSource): void {
    const g = this.groups.get(group)!;
    if (key === 'ansible_group_priority') {
      const n = Number(value);
      if (Number.isInteger(n)) g.priority = n;
      else this.warnings.push(`${where(source)}: ansible_group_priority of group "${group}" is not an integer; ignored`);
      return;
    }
    g.vars.set(key, { value, source });
  }

  setHostVar(host: string, key: string, value: unknown, source: ConfigSource): void {
    this.hosts.get(host)!.vars.set(key, { value, source });
  }

  /** What InventoryData.reconcile_inventory does once every source is read. */
  reconcile(): void {
    for (const g of this.groups.values()) {
      if (g.name !== 'all' && g.parents.length === 0) this.addChild('all', g.name);
    }
    const ungrouped = this.groups.get('ungrouped')!;
    for (const h of this.hosts.values()) {
      const others = h.groups.filter((g) => g !== 'all' && g !== 'ungrouped');
      if (others.length > 0) {
        if (h.groups.includes('ungrouped')) {
          ungrouped.hosts.splice(ungrouped.hosts.indexOf(h.name), 1);
          h.groups.splice(h.groups.indexOf('ungrouped'), 1);
        }
      } else if (!h.groups.includes('ungrouped')) {
        this.addHost(h.name, h.source, 'ungrouped');
      }
    }
    for (const name of this.groups.keys()) {
      if (this.hosts.has(name)) this.warnings.push(`both a group and a host are named "${name}"`);
    }
  }

  ancestors(group: string): ReadonlySet<string> {
    const known = this.ancestorSets.get(group);
    if (known) return known;
    const out = new Set<string>();
    const visit = (name: string) => {
      for (const p of this.groups.get(name)?.parents ?? []) {
        if (!out.has(p)) {
          out.add(p);
          visit(p);
        }
      }
    };
    visit(group);
    this.ancestorSets.set(group, out);
    return out;
  }

  /** Every host of the group and of its descendants, the group's own first (Group.get_hosts). */
  hostsOf(group: string): string[] {
    const out = new Set<string>();
    const seen = new Set<string>();
    const queue = [group];
    for (let i = 0; i < queue.length; i++) {
      const g = this.groups.get(queue[i]!)!;
      for (const h of g.hosts) out.add(h);
      for (const c of g.children) if (!seen.has(c)) (seen.add(c), queue.push(c));
    }
    if (group === 'all') for (const h of this.hosts.keys()) out.add(h);
    return [...out];
  }

  /** Longest distance from `all`, Ansible's group depth. */
  depth(group: string): number {
    const known = this.depths.get(group);
    if (known !== undefined) return known;
    const parents = this.groups.get(group)!.parents;
    const value = parents.length === 0 ? 0 : Math.max(...parents.map((p) => this.depth(p))) + 1;
    this.depths.set(group, value);
    return value;
  }

  /**
   * The host's variables after Ansible's precedence (VariableManager.get_vars): `all`'s inventory vars, then
   * group_vars/all, then the inventory vars of its other groups (direct or through children) sorted by
   * depth, priority and name, then their group_vars files, then its own vars, then host_vars.
   */
  hostVars(host: string): Map<string, AnsibleVar> {
    const h = this.hosts.get(host)!;
    const groups = new Set<string>();
    for (const g of h.groups) {
      groups.add(g);
      for (const a of this.ancestors(g)) groups.add(a);
    }
    groups.delete('all');
    const sorted = [...groups]
      .map((name) => ({ group: this.groups.get(name)!, depth: this.depth(name) }))
      .sort((a, b) => a.depth - b.depth || a.group.priority - b.group.priority || (a.group.name < b.group.name ? -1 : a.group.name > b.group.name ? 1 : 0))
      .map((x) => x.group);
    const all = this.groups.get('all')!;
    const layers = [all.vars, all.dirVars, ...sorted.map((g) => g.vars), ...sorted.map((g) => g.dirVars), h.vars, h.dirVars];
    const out = new Map<string, AnsibleVar>();
    for (const layer of layers) for (const [k, v] of layer) out.set(k, v);
    return out;
  }
}

export function where(source: ConfigSource): string {
  return source.line ? `${source.file}:${source.line}` : source.file;
}
