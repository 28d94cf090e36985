// flotilla <verb> [options]: the same core as the extension, for scripts and AI agents. Arguments are
// parsed by commander (per-verb help, unknown flags and extra arguments are errors); every verb lives in
// its own file under commands/.
import { Command, CommanderError } from 'commander';
import { AnsibleInventoryError } from '../core/ansible';
import { AnsibleExportError } from '../core/ansible/export';
import { GroupsFileError } from '../core/config/groups';
import { TargetError } from '../core/config/inventory';
import { SshConfigError } from '../core/config/sshConfig';
import { RunFilesError } from '../core/jobs/files';
import { EXIT } from '../core/jobs/outcome';
import { agentsVerb } from './commands/agents';
import { configVerb } from './commands/config';
import { hostsVerb } from './commands/hosts';
import { inventoryVerb } from './commands/inventory';
import { mcpVerb } from './commands/mcp';
import { placeVerb } from './commands/place';
import { pushVerbs } from './commands/push';
import { reportVerbs } from './commands/report';
import { runVerb } from './commands/run';
import { runsVerbs } from './commands/runs';
import { workflowVerbs } from './commands/workflow';
import { createContext, type GlobalFlags } from './context';
import { CliIo, invalidUtf8Argument, UsageError, type CliErrorInfo } from './io';
import { collect, durationOption, type Act, type Verb } from './verbs';

const VERBS: readonly Verb[] = [hostsVerb, runVerb, runsVerbs, placeVerb, pushVerbs, reportVerbs, agentsVerb, configVerb, inventoryVerb, workflowVerbs, mcpVerb];

const EPILOG = `
TARGET: a host alias, a group, "all", or a comma list. Durations: 90 (seconds), 90s, 10m, 1h30m.
Runs are recorded in the run store shared with the editor (--store, default $XDG_DATA_HOME/flotilla).
Exit codes: 0 all ok, 1 usage/config error, 2 a command failed, 3 a host unreachable or timed out,
4 cancelled. With --json every result and every error is one JSON object on stdout.`;

interface GlobalOptions {
  sshConfig?: string;
  F?: string;
  groups?: string;
  store?: string;
  historyDir?: string;
  connectTimeout?: number;
  acceptNewHostKeys?: boolean;
  json?: boolean;
  ansibleInventory: string[];
  ansibleAllowScripts?: boolean;
}

function flagsOf(o: GlobalOptions): GlobalFlags {
  return {
    sshConfig: o.sshConfig ?? o.F,
    groups: o.groups,
    store: o.store ?? o.historyDir ?? process.env.FLOTILLA_STORE,
    connectTimeoutMs: o.connectTimeout,
    acceptNewHostKeys: o.acceptNewHostKeys,
    json: o.json,
    ansibleInventories: o.ansibleInventory.length ? o.ansibleInventory : undefined,
    ansibleAllowScripts: o.ansibleAllowScripts,
  };
}

export function buildProgram(io: CliIo, setCode: (code: number) => void): Command {
  const program = new Command('flotilla')
    .description('Drive a fleet of machines over SSH: the core of the Flotilla VS Code extension, for scripts and AI agents.')
    .exitOverride()
    .configureOutput({ writeOut: (s) => void io.out(s), writeErr: () => {}, outputError: () => {} })
    .option('--ssh-config <file>', 'ssh config file to read (like ssh -F)')
    .option('-F <file>', 'same as --ssh-config')
    .option('--groups <file>', 'sshsync groups file')
    .option('--store <dir>', 'run store directory (shared with the editor)')
    .option('--history-dir <dir>', 'old name of --store')
    .option('--connect-timeout <duration>', 'connect timeout when the ssh config sets no ConnectTimeout (default 10s)', durationOption('--connect-timeout'))
    .option('--accept-new-host-keys', 'accept unknown host keys (like StrictHostKeyChecking=accept-new); changed keys are still refused')
    .option('--json', 'machine-readable output: one JSON object')
    .option('--ansible-inventory <path>', 'also read this Ansible inventory (INI/YAML file or directory; repeatable): its groups, and its hosts the ssh config lacks', collect, [])
    .option('--ansible-allow-scripts', 'let ansible-inventory run inventory scripts and plugin configurations given with --ansible-inventory')
    .addHelpText('after', EPILOG)
    .showSuggestionAfterError(true);

  const act: Act = (action, opts = {}) => async (...args: unknown[]) => {
    const command = args[args.length - 1] as Command;
    const flags = opts.flags ? await opts.flags() : flagsOf(command.optsWithGlobals<GlobalOptions>());
    const ctx = await createContext(flags, io, { interactive: opts.interactive });
    try {
      setCode(await action(ctx, ...args.slice(0, -2), args[args.length - 2]));
    } finally {
      await ctx.pool.dispose();
    }
  };
  for (const verb of VERBS) verb(program, act);
  return program;
}

function errorInfo(err: unknown): { info: CliErrorInfo; exit: number } {
  if (err instanceof CommanderError) {
    return {
      info: { code: err.code.replace(/^commander\./, ''), message: err.message.replace(/^error: /, ''), hint: 'see flotilla --help, or flotilla VERB --help' },
      exit: EXIT.usage,
    };
  }
  if (err instanceof UsageError) return { info: { code: err.code, message: err.message, hint: err.hint }, exit: EXIT.usage };
  if (err instanceof SshConfigError || err instanceof GroupsFileError || err instanceof AnsibleInventoryError) {
    return { info: { code: 'config', message: err.message, hint: 'fix the file at the place named; nothing was run' }, exit: EXIT.usage };
  }
  if (err instanceof TargetError) return { info: { code: 'target', message: err.message, hint: err.hint ?? 'list hosts and groups with: flotilla hosts' }, exit: EXIT.usage };
  if (err instanceof AnsibleExportError) return { info: { code: 'export', message: err.message }, exit: EXIT.usage };
  if (err instanceof RunFilesError) return { info: { code: 'files', message: err.message }, exit: EXIT.usage };
  return { info: { code: 'internal', message: err instanceof Error ? err.message : String(err), hint: 'set FLOTILLA_DEBUG=1 for a stack trace' }, exit: EXIT.usage };
}

export async function main(argv: string[], io = new CliIo()): Promise<number> {
  let code: number = EXIT.ok;
  const dashdash = argv.indexOf('--');
  const json = (dashdash >= 0 ? argv.slice(0, dashdash) : argv).includes('--json');
  try {
    const bad = invalidUtf8Argument(argv);
    if (bad !== undefined) {
      throw new UsageError(
        `argument ${bad + 1} is not valid UTF-8; it would not reach the host byte for byte`,
        "write such bytes inside a shell command line instead, e.g. -- 'printf \"\\377\"'",
        'invalid-utf8',
      );
    }
    const program = buildProgram(io, (c) => (code = c));
    if (argv.length === 0) {
      await io.out(program.helpInformation());
      return EXIT.usage;
    }
    await program.parseAsync(argv, { from: 'user' });
    return code;
  } catch (err) {
    if (err instanceof CommanderError && (err.code === 'commander.helpDisplayed' || err.code === 'commander.help' || err.code === 'commander.version')) {
      return EXIT.ok;
    }
    const { info, exit } = errorInfo(err);
    if (json) await io.errorJson(info);
    else {
      io.err(`flotilla: ${info.message}\n${info.hint ? `  (${info.hint})\n` : ''}`);
      if (info.code === 'internal' && process.env.FLOTILLA_DEBUG && err instanceof Error) io.err(`${err.stack}\n`);
    }
    return exit;
  }
}

if (require.main === module) {
  const io = new CliIo();
  io.installSignals();
  void main(process.argv.slice(2), io).then(async (code) => {
    await io.flush();
    // A reader that went away (`| head`) is not an error.
    process.exit(io.stdoutClosed ? 0 : io.signalled && code === EXIT.ok ? EXIT.cancelled : code);
  });
}
