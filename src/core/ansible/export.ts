// Flotilla's fleet as an Ansible inventory: the same groups (flattened), and per host the variables
// that make Ansible's ssh reach it the way Flotilla does — hosts of the ssh config through that config
// (`-F FILE` when Flotilla reads a non-default one, so the same known_hosts too), inventory-only hosts
// through the connection variables Flotilla resolved them with, their jump hosts through the ssh config.
import { homedir } from 'node:os';
import { stringify } from 'yaml';
import { expandTargets, type Inventory } from '../config/inventory';
import { expandHome } from './index';
import { pythonLiteral, shellQuote } from './values';

export type AnsibleExportFormat = 'ansible-yaml' | 'ansible-ini';
export const ANSIBLE_EXPORT_FORMATS: readonly AnsibleExportFormat[] = ['ansible-yaml', 'ansible-ini'];

export class AnsibleExportError extends Error {
  override name = 'AnsibleExportError';
}

type HostVars = Record<string, string | number>;

export interface AnsibleExport {
  hosts: Map<string, HostVars>;
  groups: Map<string, string[]>;
  /** Group members that name no host Flotilla knows: Ansible could not reach them either. */
  leftOut: { group: string; alias: string }[];
}

const HEADER = 'Written by flotilla inventory export: the groups and connection settings Flotilla uses.';

/** The hosts of `target` (default all) and their groups, with the vars Ansible needs to connect as Flotilla does. */
export function planAnsibleExport(inv: Inventory, target = 'all', homeDir = homedir()): AnsibleExport {
  const aliases = expandTargets(target, inv);
  const known = new Map(inv.hosts.map((h) => [h.alias, h]));
  const configFile = inv.resolveOptions.configFile ? expandHome(inv.resolveOptions.configFile, homeDir) : undefined;
  const hosts = new Map<string, HostVars>();
  for (const alias of aliases) {
    const h = known.get(alias);
    if (!h) continue;
    if (/[[\]:]/.test(alias)) throw new AnsibleExportError(`host ${JSON.stringify(alias)} cannot be named in an Ansible inventory: "[", "]" and ":" read as a range or a port there`);
    const vars: HostVars = {};
    const c = h.ansible;
    // The inventory's own -F wins over Flotilla's, as it did when Flotilla resolved the host.
    const config = c?.configFile?.value ?? configFile;
    const args = config ? ['-F', config] : [];
    if (c) {
      if (c.host) vars.ansible_host = c.host.value;
      if (c.port) vars.ansible_port = c.port.value;
      if (c.user) vars.ansible_user = c.user.value;
      if (c.identityFile) vars.ansible_ssh_private_key_file = c.identityFile.value;
      // Flotilla reads the jump hosts through the ssh config only, as ssh -J does: the same option works for both.
      if (c.proxyJump) args.push('-o', `ProxyJump=${c.proxyJump.value}`);
    }
    if (args.length) vars.ansible_ssh_common_args = args.map(shellQuote).join(' ');
    hosts.set(alias, vars);
  }
  const groups = new Map<string, string[]>();
  const leftOut: AnsibleExport['leftOut'] = [];
  const targeted = new Set(aliases);
  for (const [name, members] of inv.groups) {
    const exported = members.filter((m) => hosts.has(m));
    if (exported.length) groups.set(name, exported);
    for (const m of members) if (targeted.has(m) && !known.has(m)) leftOut.push({ group: name, alias: m });
  }
  return { hosts, groups, leftOut };
}

export function formatAnsibleExport(plan: AnsibleExport, format: AnsibleExportFormat): string {
  return format === 'ansible-yaml' ? toYaml(plan) : toIni(plan);
}

function toYaml(plan: AnsibleExport): string {
  const hosts = Object.fromEntries([...plan.hosts].map(([h, vars]) => [h, Object.keys(vars).length ? vars : null]));
  const children = Object.fromEntries([...plan.groups].map(([g, members]) => [g, { hosts: Object.fromEntries(members.map((m) => [m, null])) }]));
  const all: Record<string, unknown> = { hosts };
  if (plan.groups.size) all.children = children;
  // Ansible reads YAML 1.1: strings such as "yes" or "0755" must be quoted for it.
  return `# ${HEADER}\n${stringify({ all }, { version: '1.1', nullStr: '', lineWidth: 0 })}`;
}

function iniValue(value: string | number): string {
  if (typeof value === 'number') return String(value);
  // A string the INI reader would turn into a number, boolean or None goes in Python quotes.
  return shellQuote(pythonLiteral(value) === value ? value : JSON.stringify(value));
}

function toIni(plan: AnsibleExport): string {
  const lines = [`# ${HEADER}`];
  for (const [host, vars] of plan.hosts) {
    if (/['"\\#;=]/.test(host)) throw new AnsibleExportError(`host ${JSON.stringify(host)} cannot be written to an INI inventory (quotes, "#", ";" and "=" change its meaning there); use --format ansible-yaml`);
    lines.push([host, ...Object.entries(vars).map(([k, v]) => `${k}=${iniValue(v)}`)].join(' '));
  }
  for (const [group, members] of plan.groups) {
    if (/[:\]\s]/.test(group)) throw new AnsibleExportError(`group ${JSON.stringify(group)} cannot be an INI section (":", "]" and spaces are not allowed there); use --format ansible-yaml`);
    lines.push('', `[${group}]`, ...members);
  }
  return `${lines.join('\n')}\n`;
}
