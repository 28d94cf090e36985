// Reads the Ansible inventory sources the user named, choosing as Ansible's plugin order would: an
// executable script or a plugin configuration (`plugin:`) runs code, so it goes to `ansible-inventory`
// only when the user allowed scripts; a directory goes to `ansible-inventory` with only its static
// readers enabled unless scripts are allowed; INI and YAML files are read by Flotilla itself.
import { constants } from 'node:fs';
import { access, readFile, stat } from 'node:fs/promises';
import { dirname, extname, isAbsolute } from 'node:path';
import { readIniInventory } from './ini';
import { readListJson, runAnsibleInventory, type ListOptions } from './listJson';
import { AnsibleInventory, AnsibleInventoryError } from './model';
import { applyVarsDirs } from './varsDirs';
import { isMap } from 'yaml';
import { parseYamlInventory, pluginName, readYamlInventory } from './yaml';

export type AnsibleSourceOptions = Partial<ListOptions>;

const YAML_EXTENSIONS = ['.yml', '.yaml', '.json'];
const ALLOW_HINT = 'enable flotilla.ansible.allowInventoryScripts (CLI: --ansible-allow-scripts) to let ansible-inventory run it';

type Kind = { kind: 'ini' | 'yaml'; text: string } | { kind: 'ansible-inventory'; runsCode: boolean; what: string };

async function classify(path: string): Promise<Kind> {
  let info;
  try {
    info = await stat(path);
  } catch (err) {
    throw new AnsibleInventoryError(`cannot read the inventory: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file or directory' : (err as Error).message}`, path);
  }
  if (info.isDirectory()) return { kind: 'ansible-inventory', runsCode: false, what: 'an inventory directory' };
  const text = await readFile(path, 'utf8');
  const executable = await access(path, constants.X_OK).then(() => true, () => false);
  if (executable && text.startsWith('#!')) return { kind: 'ansible-inventory', runsCode: true, what: 'an executable inventory script' };
  const ext = extname(path).toLowerCase();
  if (YAML_EXTENSIONS.includes(ext) || ext === '') {
    let doc;
    try {
      doc = parseYamlInventory(text, path).doc;
    } catch (err) {
      if (ext) throw err;
    }
    const plugin = doc && pluginName(doc);
    if (plugin) return { kind: 'ansible-inventory', runsCode: true, what: `an inventory plugin configuration (plugin: ${plugin})` };
    if (ext || (doc && isMap(doc.contents))) return { kind: 'yaml', text };
  }
  return { kind: 'ini', text };
}

/** Reads every source into one inventory, as `ansible-inventory -i A -i B` would. */
export async function loadAnsibleInventory(paths: readonly string[], opts: AnsibleSourceOptions = {}): Promise<AnsibleInventory> {
  const inv = new AnsibleInventory(paths);
  const staticFiles: string[] = [];
  for (const path of paths) {
    if (!isAbsolute(path)) throw new AnsibleInventoryError('the inventory path must be absolute (or start with ~/)', path);
    const source = await classify(path);
    if (source.kind === 'ansible-inventory') {
      const allowScripts = opts.allowScripts ?? false;
      if (source.runsCode && !allowScripts) throw new AnsibleInventoryError(`this is ${source.what}; Flotilla does not run it: ${ALLOW_HINT}`, path);
      readListJson(inv, await runAnsibleInventory(path, { ...opts, allowScripts }), path);
    } else {
      staticFiles.push(path);
      if (source.kind === 'ini') readIniInventory(inv, source.text, path);
      else readYamlInventory(inv, source.text, path);
    }
  }
  inv.reconcile();
  // ansible-inventory already merged group_vars/host_vars into what it printed.
  for (const dir of new Set(staticFiles.map((f) => dirname(f)))) await applyVarsDirs(inv, dir);
  return inv;
}
