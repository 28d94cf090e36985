// flotilla <verb> [--json]: the same core as the extension, for scripts and AI agents.
import { parseArgs } from 'node:util';
import { SshConfigError } from '../core/config/sshConfig';
import { TargetError } from '../core/config/inventory';
import { GroupsFileError } from '../core/config/groups';
import { configResolveCommand } from './commands/config';
import { agentsListCommand, agentsPeekCommand, agentsSendCommand, agentsSpawnCommand } from './commands/agents';
import { catCommand, historyCommand } from './commands/history';
import { hostsCommand } from './commands/hosts';
import { chooseLeastLoaded, placeCommand } from './commands/place';
import { pullCommand, pushCommand } from './commands/push';
import { runCommand } from './commands/run';
import { createContext, EXIT, UsageError, type GlobalFlags } from './context';

const USAGE = `usage: flotilla <command> [options]

  hosts [--status]                         list hosts (and probe them with --status)
  run TARGET [--cwd DIR] [--timeout S] [--concurrency N] [--pty] [--least-loaded] -- COMMAND...
                                           one argument after -- is a shell command line;
                                           several are an argv, each element sent byte-exact
                                           --least-loaded: run on the one least-loaded host of TARGET
  place TARGET                             which host of TARGET is least loaded, and why
  push TARGET LOCAL REMOTE [--dry-run] [--delete] [--max-delete N] [--exclude GLOB]...
                                           per-host plan, then temp-file + atomic-rename writes
  pull TARGET REMOTE LOCAL                 copy REMOTE from each host into LOCAL/<host>/
  history [--limit N]                      recent runs
  cat RUN HOST [--raw]                     full output of one host of a run
  config resolve ALIAS [-F FILE]           resolved settings, like ssh -G
  agents [TARGET]                          tmux sessions/panes per host with attention (waiting/working/idle)
  agents spawn HOST DIR [--name S] [-- COMMAND...]   new detached agent session (default command: claude)
  agents peek HOST:SESSION[:WINDOW] [--lines N] [--raw]
  agents send HOST:SESSION[:WINDOW][,...] TEXT [--no-enter]

TARGET: a host alias, a group, "all", or a comma list.
Global: --ssh-config FILE  --groups FILE  --history-dir DIR  --connect-timeout S  --json
        --accept-new-host-keys (like StrictHostKeyChecking=accept-new; changed keys are still refused)
Exit: 0 all ok, 1 usage/config error, 2 a command failed, 3 a host unreachable/timed out, 4 cancelled.
`;

const options = {
  'ssh-config': { type: 'string' },
  F: { type: 'string', short: 'F' },
  groups: { type: 'string' },
  'history-dir': { type: 'string' },
  'connect-timeout': { type: 'string' },
  'accept-new-host-keys': { type: 'boolean' },
  json: { type: 'boolean' },
  status: { type: 'boolean' },
  cwd: { type: 'string' },
  timeout: { type: 'string' },
  concurrency: { type: 'string' },
  pty: { type: 'boolean' },
  'least-loaded': { type: 'boolean' },
  'dry-run': { type: 'boolean' },
  delete: { type: 'boolean' },
  'max-delete': { type: 'string' },
  exclude: { type: 'string', multiple: true },
  limit: { type: 'string' },
  raw: { type: 'boolean' },
  name: { type: 'string' },
  lines: { type: 'string' },
  'no-enter': { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

function num(value: string | undefined, flag: string): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) throw new UsageError(`--${flag} needs a positive number, got ${JSON.stringify(value)}`);
  return n;
}

export async function main(argv: string[]): Promise<number> {
  const dashdash = argv.indexOf('--');
  const before = dashdash >= 0 ? argv.slice(0, dashdash) : argv;
  const command = dashdash >= 0 ? argv.slice(dashdash + 1) : [];
  const { values, positionals } = parseArgs({ args: before, options, allowPositionals: true, strict: true });
  if (values.help || positionals.length === 0) {
    process.stdout.write(USAGE);
    return values.help ? EXIT.ok : EXIT.usage;
  }
  const flags: GlobalFlags = {
    sshConfig: values['ssh-config'] ?? values.F,
    groups: values.groups,
    historyDir: values['history-dir'],
    connectTimeout: num(values['connect-timeout'], 'connect-timeout'),
    acceptNewHostKeys: values['accept-new-host-keys'],
    json: values.json,
  };
  const [verb, ...args] = positionals;
  const ctx = await createContext(flags);
  try {
    switch (verb) {
      case 'hosts':
        return await hostsCommand(ctx, !!values.status, (flags.connectTimeout ?? 10) * 1000);
      case 'run':
        if (args.length !== 1) throw new UsageError('flotilla run TARGET [options] -- COMMAND...');
        let target = args[0]!;
        if (values['least-loaded']) {
          const decision = await chooseLeastLoaded(ctx, target, { diskPath: values.cwd });
          if (!decision.chosen) {
            process.stderr.write(`${decision.explanation}\n`);
            return EXIT.unreachable;
          }
          if (!flags.json) process.stderr.write(`placed on ${decision.chosen}\n`);
          target = decision.chosen;
        }
        return await runCommand(ctx, target, command, {
          cwd: values.cwd,
          timeout: num(values.timeout, 'timeout'),
          concurrency: num(values.concurrency, 'concurrency'),
          pty: values.pty,
        });
      case 'place':
        if (args.length !== 1) throw new UsageError('flotilla place TARGET [--json]');
        return await placeCommand(ctx, args[0]!, { json: flags.json });
      case 'push':
        if (args.length !== 3) throw new UsageError('flotilla push TARGET LOCAL REMOTE [--dry-run] [--delete]');
        return await pushCommand(ctx, args[0]!, args[1]!, args[2]!, {
          dryRun: values['dry-run'],
          delete: values.delete,
          json: flags.json,
          maxDelete: num(values['max-delete'], 'max-delete'),
          exclude: values.exclude,
        });
      case 'pull':
        if (args.length !== 3) throw new UsageError('flotilla pull TARGET REMOTE LOCAL');
        return await pullCommand(ctx, args[0]!, args[1]!, args[2]!, { json: flags.json });
      case 'history':
        return await historyCommand(ctx, num(values.limit, 'limit') ?? 20);
      case 'cat':
        if (args.length !== 2) throw new UsageError('flotilla cat RUN HOST');
        return await catCommand(ctx, args[0]!, args[1]!, !!values.raw);
      case 'config':
        if (args[0] !== 'resolve' || args.length !== 2) throw new UsageError('flotilla config resolve ALIAS [-F FILE]');
        return await configResolveCommand(ctx, args[1]!);
      case 'agents': {
        const [sub, ...rest] = args;
        if (sub === 'spawn') {
          if (rest.length !== 2) throw new UsageError('flotilla agents spawn HOST DIR [--name S] [-- COMMAND...]');
          return await agentsSpawnCommand(ctx, rest[0]!, rest[1]!, command, { session: values.name });
        }
        if (sub === 'peek') {
          if (rest.length !== 1) throw new UsageError('flotilla agents peek HOST:SESSION[:WINDOW] [--lines N]');
          return await agentsPeekCommand(ctx, rest[0]!, num(values.lines, 'lines') ?? 40, !!values.raw);
        }
        if (sub === 'send') {
          if (rest.length !== 2) throw new UsageError('flotilla agents send HOST:SESSION[:WINDOW] TEXT');
          return await agentsSendCommand(ctx, rest[0]!, rest[1]!, { enter: !values['no-enter'] });
        }
        if (args.length > 1) throw new UsageError('flotilla agents [TARGET]');
        return await agentsListCommand(ctx, sub);
      }
      default:
        throw new UsageError(`unknown command ${JSON.stringify(verb)}\n\n${USAGE}`);
    }
  } finally {
    await ctx.pool.dispose();
  }
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (err: unknown) => {
      const known = err instanceof UsageError || err instanceof SshConfigError || err instanceof TargetError || err instanceof GroupsFileError;
      process.stderr.write(`flotilla: ${err instanceof Error ? err.message : String(err)}\n`);
      if (!known && err instanceof Error && process.env.FLOTILLA_DEBUG) process.stderr.write(`${err.stack}\n`);
      process.exit(known || (err as { code?: string }).code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION' ? EXIT.usage : EXIT.usage);
    },
  );
}
