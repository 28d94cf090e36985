// `flotilla run TARGET [options] -- COMMAND...`: a recorded run through the core job layer, in the
// foreground or detached (a worker process owns it; any process can read or cancel it).
import { spawn } from 'node:child_process';
import { resolve } from 'node:path';
import { commandText, newRunId, RunSpecError } from '../../core/exec/run';
import { checkJobRequest, startJob, type JobRequest } from '../../core/jobs/job';
import { EXIT, runExitCode } from '../../core/jobs/outcome';
import { buildRemoteCommand } from '../../core/ssh/quote';
import type { CliContext, GlobalFlags } from '../context';
import { UsageError } from '../io';
import { humanRun, runJson } from '../render';
import { collect, durationOption, positiveInt, type Verb } from '../verbs';

interface RunOptions {
  cwd?: string;
  timeout?: number;
  concurrency?: number;
  pty?: boolean;
  leastLoaded?: boolean;
  dryRun?: boolean;
  detach?: boolean;
  stdin?: boolean;
  file: string[];
  keepFiles?: boolean;
}

/** What a detached worker is handed on its stdin. */
interface WorkerOrder {
  id: string;
  flags: GlobalFlags;
  request: JobRequest;
}

function requestOf(ctx: CliContext, target: string, command: string[], o: RunOptions): JobRequest {
  if (!command.length) throw new UsageError('no command given', 'flotilla run TARGET -- COMMAND...');
  if (o.keepFiles && !o.file.length) throw new UsageError('--keep-files needs --file');
  if (o.detach && o.stdin) throw new UsageError('--stdin cannot be used with --detach: a detached run has no stdin');
  const hosts = ctx.targets(target);
  if (o.stdin && hosts.length > 1 && o.leastLoaded !== true && process.stdin.isTTY) {
    throw new UsageError('--stdin reads the terminal: pipe the input in (… | flotilla run --stdin …)');
  }
  const req: JobRequest = {
    target,
    hosts,
    command: command.length === 1 ? command[0]! : command,
    cwd: o.cwd,
    timeoutMs: o.timeout,
    concurrency: o.concurrency,
    pty: o.pty,
    origin: 'cli',
    files: o.file.map((f) => resolve(f)),
    keepFiles: o.keepFiles,
    leastLoaded: o.leastLoaded ? {} : undefined,
  };
  try {
    checkJobRequest(req);
  } catch (err) {
    if (err instanceof RunSpecError) throw new UsageError(err.message, 'nothing was run', 'bad-command');
    throw err;
  }
  return req;
}

async function readAll(stream: NodeJS.ReadableStream): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(Buffer.from(chunk as Buffer));
  return Buffer.concat(chunks);
}

async function dryRun(ctx: CliContext, req: JobRequest): Promise<number> {
  const script = commandText(req.command);
  const remote = buildRemoteCommand(script, { cwd: req.files?.length ? undefined : req.cwd, reportPgid: true });
  if (ctx.flags.json) {
    await ctx.io.json({
      dryRun: true,
      hosts: req.hosts,
      placement: req.leastLoaded ? 'least-loaded (decided when the run starts; see: flotilla place TARGET)' : 'all',
      command: script,
      ...(typeof req.command === 'string' ? {} : { argv: req.command }),
      cwd: req.cwd ?? null,
      files: req.files ?? [],
      timeoutMs: req.timeoutMs ?? null,
      remoteCommand: remote,
    });
  } else {
    const where = req.leastLoaded ? `the least-loaded one of ${req.hosts.length} host(s)` : `${req.hosts.length} host(s)`;
    await ctx.io.out(
      `dry run: nothing was contacted.\nwould run on ${where}: ${req.hosts.join(', ')}\n` +
        `command: ${script}\n${req.cwd ? `in: ${req.cwd}\n` : ''}${req.files?.length ? `files (in a private temp dir): ${req.files.join(', ')}\n` : ''}`,
    );
  }
  return EXIT.ok;
}

/** Starts the worker, waits until it has recorded the run, prints the id. The run goes on without us. */
async function detach(ctx: CliContext, req: JobRequest): Promise<number> {
  const order: WorkerOrder = { id: newRunId(), flags: ctx.flags, request: req };
  const child = spawn(process.execPath, [...process.execArgv, process.argv[1]!, '__worker'], {
    detached: true,
    stdio: ['pipe', 'pipe', 'ignore'],
  });
  child.stdin!.end(JSON.stringify(order));
  const started = await new Promise<string>((resolveStart) => {
    let text = '';
    child.stdout!.on('data', (d: Buffer) => { text += d.toString(); if (text.includes('\n')) resolveStart(text); });
    child.once('exit', () => resolveStart(text));
  });
  if (!started.startsWith('started ')) {
    throw new Error(`the background worker did not start the run: ${started.trim() || 'it exited'}`);
  }
  child.stdout!.destroy();
  child.unref();
  if (ctx.flags.json) await ctx.io.json({ id: order.id });
  else await ctx.io.out(`${order.id}\n`);
  return EXIT.ok;
}

async function foreground(ctx: CliContext, req: JobRequest): Promise<number> {
  ctx.io.graceful = true;
  const job = await startJob({ store: ctx.store, pool: ctx.pool, connectTimeoutMs: ctx.connectTimeoutMs }, req, {
    on: (e) => {
      if (e.type === 'placed' && !ctx.flags.json) ctx.io.err(`${e.placement.chosen ? `placed on ${e.placement.chosen}` : 'no host can take this run'}\n`);
      if (e.type === 'files-kept') ctx.io.err(`files kept on ${e.host} in ${e.dir}\n`);
    },
  });
  ctx.io.err(`run ${job.id} started on ${req.leastLoaded ? 'the least-loaded of ' : ''}${req.hosts.length} host${req.hosts.length === 1 ? '' : 's'} (status: flotilla status ${job.id})\n`);
  const onAbort = () => job.cancel();
  if (ctx.io.signal.aborted) job.cancel();
  ctx.io.signal.addEventListener('abort', onAbort, { once: true });
  const { doc, results } = await job.done;
  ctx.io.signal.removeEventListener('abort', onAbort);
  if (doc.kind === 'least-loaded' && !doc.placement?.chosen) {
    if (ctx.flags.json) await ctx.io.json(runJson(doc, results));
    else ctx.io.err(`${doc.placement?.explanation ?? 'no host could be chosen'}\n`);
    return EXIT.unreachable;
  }
  if (ctx.flags.json) await ctx.io.json(runJson(doc, results));
  else await ctx.io.out(humanRun(doc, results));
  return runExitCode(doc.hosts.map((h) => h.state));
}

export const runVerb: Verb = (program, act) => {
  program
    .command('run')
    .summary('run a command on hosts, recorded with an id')
    .description(
      'Run COMMAND on every host of TARGET (a host alias, a group, "all", or a comma list). One argument after -- is a shell\n' +
        'command line; several are an argv whose elements arrive byte-exact. The run id is printed on stderr at once;\n' +
        'follow it from any terminal with flotilla status / cat / cancel.',
    )
    .argument('<target>', 'host alias, group, "all" or comma list')
    .argument('<command...>', 'after --: a shell command line, or a program and its arguments')
    .option('--cwd <dir>', 'remote working directory (~ and ~/… are the remote home)')
    .option('--timeout <duration>', 'stop the remote command after this long (90, 90s, 10m, 1h30m; default 5m)', durationOption('--timeout'))
    .option('--concurrency <n>', 'hosts at a time (default 64)', positiveInt('--concurrency'))
    .option('--pty', 'allocate a terminal (stderr is merged into stdout)')
    .option('--least-loaded', 'measure the hosts of TARGET and run on the least-loaded one')
    .option('--dry-run', 'show the targets and the exact command; contact nothing')
    .option('--detach', 'start in the background, print the run id alone, return at once')
    .option('--stdin', "pass this process's stdin to the remote command (default: the remote stdin gets EOF)")
    .option('--file <path>', 'place a file or directory in a private temp dir on each host and run there (repeatable)', collect, [])
    .option('--keep-files', 'keep the temp dir of --file (its path is printed)')
    .action(act(async (ctx, target: string, command: string[], o: RunOptions) => {
      const req = requestOf(ctx, target, command, o);
      if (o.dryRun) return dryRun(ctx, req);
      await ctx.store.prune().catch(() => []);
      if (o.detach) return detach(ctx, req);
      if (o.stdin) req.stdin = req.hosts.length === 1 && !o.leastLoaded ? process.stdin : await readAll(process.stdin);
      return foreground(ctx, req);
    }));

  let order: WorkerOrder | undefined;
  program
    .command('__worker', { hidden: true })
    .description('internal: owns a detached run (reads its order on stdin)')
    .action(act(async (ctx) => {
      ctx.io.graceful = true;
      const job = await startJob({ store: ctx.store, pool: ctx.pool, connectTimeoutMs: ctx.connectTimeoutMs }, order!.request, { id: order!.id });
      process.stdout.write(`started ${job.id}\n`);
      const onAbort = () => job.cancel();
      if (ctx.io.signal.aborted) job.cancel();
      ctx.io.signal.addEventListener('abort', onAbort, { once: true });
      await job.done;
      return EXIT.ok;
    }, {
      interactive: false,
      flags: async () => {
        order = JSON.parse((await readAll(process.stdin)).toString('utf8')) as WorkerOrder;
        return order.flags;
      },
    }));
};
