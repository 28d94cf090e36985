import { writeFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { Option } from 'commander';
import { ANSIBLE_EXPORT_FORMATS, formatAnsibleExport, planAnsibleExport, type AnsibleExportFormat } from '../../core/ansible/export';
import { EXIT, UsageError, type CliContext } from '../context';
import type { Verb } from '../verbs';

interface ExportOptions {
  format: AnsibleExportFormat;
  output?: string;
  force?: boolean;
}

/** Writes an exported file; without `force` an existing file is never replaced. */
export async function writeExport(path: string, text: string, force = false): Promise<string> {
  const file = resolve(path);
  try {
    await writeFile(file, text, { flag: force ? 'w' : 'wx', mode: 0o644 });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') throw new UsageError(`${file} exists`, 'pass --force to replace it, or choose another output file');
    throw err;
  }
  return file;
}

export async function inventoryExportCommand(ctx: CliContext, target: string | undefined, o: ExportOptions): Promise<number> {
  // Unknown names are a usage error; group members that are no Host are left out with a warning.
  const plan = planAnsibleExport(ctx.inventory, target);
  const text = formatAnsibleExport(plan, o.format);
  const left = plan.leftOut.map((l) => `group ${l.group} names ${l.alias}, which is not a Host; left out of the export`);
  if (o.output) await writeExport(o.output, text, o.force);
  if (ctx.flags.json) {
    await ctx.io.json({
      format: o.format,
      output: o.output ? resolve(o.output) : null,
      hosts: Object.fromEntries(plan.hosts),
      groups: Object.fromEntries(plan.groups),
      warnings: left,
      ...(o.output ? {} : { inventory: text }),
    });
  } else {
    if (!o.output) await ctx.io.out(text);
    for (const w of left) ctx.io.err(`warning: ${w}\n`);
    if (o.output) ctx.io.err(`wrote ${plan.hosts.size} host${plan.hosts.size === 1 ? '' : 's'} in ${plan.groups.size} group${plan.groups.size === 1 ? '' : 's'} to ${resolve(o.output)}\n`);
  }
  return EXIT.ok;
}

export const inventoryVerb: Verb = (program, act) => {
  const inventory = program.command('inventory').summary('the fleet as an inventory for other tools');
  inventory
    .command('export')
    .summary('an Ansible inventory with Flotilla\'s groups, whose hosts Ansible reaches as Flotilla does')
    .argument('[target]', 'hosts to export (alias, group, "all" or comma list; default all)')
    .addOption(new Option('--format <format>', 'inventory format').choices(ANSIBLE_EXPORT_FORMATS).default('ansible-yaml'))
    .option('-o, --output <file>', 'write to FILE instead of standard output')
    .option('--force', 'replace FILE if it exists')
    .action(act((ctx, target: string | undefined, o: ExportOptions) => inventoryExportCommand(ctx, target, o)));
};
