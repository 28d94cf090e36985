// `ansible-inventory -i PATH --list`: Ansible itself reads the source (directories, scripts, inventory
// plugins) and prints groups, children and merged host vars as JSON. No line numbers come back.
import { execFile } from 'node:child_process';
import { stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import { AnsibleInventory, AnsibleInventoryError } from './model';

export interface ListOptions {
  /** Let Ansible run inventory scripts and inventory plugins; without it only its ini/yaml/toml readers are enabled. */
  allowScripts: boolean;
  /** Default `ansible-inventory` on PATH. */
  binary?: string;
  env?: Record<string, string | undefined>;
  timeoutMs?: number;
}

const STATIC_PLUGINS = 'ini,yaml,toml';

export async function runAnsibleInventory(path: string, opts: ListOptions): Promise<unknown> {
  const binary = opts.binary ?? 'ansible-inventory';
  const cwd = (await stat(path)).isDirectory() ? path : dirname(path);
  const env: Record<string, string | undefined> = {
    ...(opts.env ?? process.env),
    ANSIBLE_NOCOLOR: '1',
    ANSIBLE_FORCE_COLOR: '0',
    // A source Ansible cannot read must fail the run, not print a warning and an empty inventory.
    ANSIBLE_INVENTORY_UNPARSED_FAILED: '1',
    ANSIBLE_INVENTORY_ANY_UNPARSED_IS_FAILED: '1',
  };
  if (!opts.allowScripts) env.ANSIBLE_INVENTORY_ENABLED = STATIC_PLUGINS;
  const stdout = await new Promise<string>((resolve, reject) => {
    execFile(binary, ['-i', path, '--list'], { cwd, env, timeout: opts.timeoutMs ?? 60_000, maxBuffer: 256 * 1024 * 1024 }, (err, out, errText) => {
      if (!err) return resolve(out);
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
        return reject(new AnsibleInventoryError(`${binary} is not installed (needed for inventory directories, scripts and plugins; Flotilla reads INI and YAML files itself): install Ansible, e.g. apt-get install ansible`, path));
      }
      const reason = errText.split('\n').map((l) => l.trim()).filter((l) => l && !/^\[WARNING\]/.test(l)).slice(0, 4).join(' ');
      reject(new AnsibleInventoryError(`${binary} -i ${path} --list failed${err.killed ? ' (timed out)' : ''}: ${reason || err.message}`, path));
    });
  });
  try {
    return JSON.parse(stdout);
  } catch {
    throw new AnsibleInventoryError(`${binary} printed something that is not JSON`, path);
  }
}

/** Adds what `ansible-inventory --list` printed for `path` to `inv`. */
export function readListJson(inv: AnsibleInventory, data: unknown, path: string): void {
  const at = { file: path, line: 0 };
  if (!isObject(data)) throw new AnsibleInventoryError('ansible-inventory --list output is not a JSON object', path);
  const groups = Object.entries(data).filter(([name]) => name !== '_meta');
  for (const [name] of groups) inv.addGroup(name, at);
  for (const [name, g] of groups) {
    if (!isObject(g)) continue;
    for (const host of strings(g.hosts)) inv.addHost(host, at, name);
    for (const [k, v] of Object.entries(isObject(g.vars) ? g.vars : {})) inv.setGroupVar(name, k, v, at);
  }
  for (const [name, g] of groups) {
    if (!isObject(g)) continue;
    for (const child of strings(g.children)) {
      inv.addGroup(child, at);
      inv.addChild(name, child, at);
    }
  }
  const meta = isObject(data._meta) && isObject(data._meta.hostvars) ? data._meta.hostvars : {};
  for (const [host, vars] of Object.entries(meta)) {
    inv.addHost(host, at);
    if (isObject(vars)) for (const [k, v] of Object.entries(vars)) inv.setHostVar(host, k, v, at);
  }
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function strings(v: unknown): string[] {
  return Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : [];
}
