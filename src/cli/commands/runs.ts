// Run control from any process: status, cat (--follow, --tail), cancel and history over the shared run store.
import { createReadStream } from 'node:fs';
import { open, readFile, stat } from 'node:fs/promises';
import { TargetError, expandTargets } from '../../core/config/inventory';
import { sanitizeForView } from '../../core/exec/output';
import { EXIT } from '../../core/jobs/outcome';
import { isSettled as allFinal, RunNotFoundError, type HostEntry, type RunDoc } from '../../core/jobs/store';
import { waitForRun } from '../../core/jobs/wait';
import type { CliContext } from '../context';
import { UsageError } from '../io';
import { historyLine, runJson, statusLines } from '../render';
import { durationOption, positiveInt, type Verb } from '../verbs';

async function findRun(ctx: CliContext, id: string): Promise<RunDoc> {
  try {
    return await ctx.store.find(id);
  } catch (err) {
    if (err instanceof RunNotFoundError) throw new UsageError(err.message, 'list runs with: flotilla history', 'run-not-found');
    throw err;
  }
}

function hostOf(doc: RunDoc, host: string): HostEntry {
  const entry = doc.hosts.find((h) => h.host === host);
  if (!entry) {
    const hint = doc.hosts.length ? `its hosts: ${doc.hosts.map((h) => h.host).join(', ')}` : 'it has no host yet';
    throw new UsageError(`run ${doc.id} has no host ${JSON.stringify(host)}`, hint, 'host-not-in-run');
  }
  return entry;
}

/** Resolves when `until(doc)` holds (or the run ends); undefined on timeout or a signal. */
async function waitFor(ctx: CliContext, id: string, until: (d: RunDoc) => boolean, timeoutMs: number): Promise<RunDoc | undefined> {
  ctx.io.graceful = true;
  return waitForRun(ctx.store, id, until, timeoutMs, ctx.io.signal);
}

function lastLines(text: string, n: number): string {
  const lines = text.split(/(?<=\n)/);
  return lines.slice(Math.max(0, lines.length - n)).join('');
}

/** Sanitizes complete lines only, so an escape sequence cut between two reads is still recognised. */
class LineSanitizer {
  private pending = '';
  constructor(private readonly raw: boolean) {}
  push(text: string): string {
    if (this.raw) return text;
    const all = this.pending + text;
    const cut = all.lastIndexOf('\n') + 1;
    this.pending = all.slice(cut);
    return cut ? sanitizeForView(all.slice(0, cut)) : '';
  }
  end(): string {
    const rest = this.pending;
    this.pending = '';
    return this.raw ? rest : sanitizeForView(rest);
  }
}

async function catFile(ctx: CliContext, file: string | undefined, o: CatOptions): Promise<void> {
  if (!file) return;
  if (o.raw && o.tail === undefined) {
    // Byte-exact, streamed with back-pressure: a slow reader gets every byte.
    const stream = createReadStream(file);
    stream.on('error', () => {});
    for await (const chunk of stream) await ctx.io.out(chunk as Buffer);
    return;
  }
  const text = await readFile(file, 'utf8').catch(() => undefined);
  if (text === undefined) return;
  const shown = o.tail !== undefined ? lastLines(text, o.tail) : text;
  await ctx.io.out(o.raw ? shown : sanitizeForView(shown));
}

/** Streams both output files as they grow until the host has an outcome. */
async function follow(ctx: CliContext, doc: RunDoc, host: string, o: CatOptions): Promise<void> {
  ctx.io.graceful = true;
  const entry = hostOf(doc, host);
  const out = ctx.store.outputFiles(doc.id, host);
  const files = [entry.stdoutFile ?? out.stdout, entry.stderrFile ?? out.stderr];
  const offsets = files.map(() => 0);
  const sanitizers = files.map(() => new LineSanitizer(!!o.raw));
  if (o.tail !== undefined) {
    for (const [i, f] of files.entries()) {
      const text = await readFile(f, 'utf8').catch(() => '');
      offsets[i] = Buffer.byteLength(text);
      await ctx.io.out(sanitizers[i]!.push(lastLines(text, o.tail)));
    }
  }
  const drain = async () => {
    for (const [i, f] of files.entries()) {
      const size = (await stat(f).catch(() => ({ size: 0 }))).size;
      if (size <= offsets[i]!) continue;
      const fh = await open(f, 'r');
      try {
        const buf = Buffer.alloc(Math.min(size - offsets[i]!, 1 << 20));
        const { bytesRead } = await fh.read(buf, 0, buf.length, offsets[i]!);
        offsets[i]! += bytesRead;
        await ctx.io.out(sanitizers[i]!.push(buf.subarray(0, bytesRead).toString('utf8')));
      } finally {
        await fh.close();
      }
    }
  };
  let finished = false;
  let busy: Promise<void> = Promise.resolve();
  const step = () => (busy = busy.then(async () => {
    await drain();
    const d = await ctx.store.read(doc.id).catch(() => undefined);
    if (!d || allFinal(d, host)) finished = true;
  }));
  await new Promise<void>((resolve) => {
    const stopRun = ctx.store.watchRun(doc.id, () => void step().then(() => finished && done()));
    const onAbort = () => done();
    const done = () => { stopRun(); ctx.io.signal.removeEventListener('abort', onAbort); resolve(); };
    ctx.io.signal.addEventListener('abort', onAbort, { once: true });
    void step().then(() => finished && done());
  });
  await busy;
  await drain();
  for (const s of sanitizers) await ctx.io.out(s.end());
}

interface CatOptions { follow?: boolean; tail?: number; raw?: boolean }

export const runsVerbs: Verb = (program, act) => {
  program
    .command('status')
    .summary('state of a run and of each of its hosts')
    .argument('<run>', 'run id (or an unambiguous prefix)')
    .action(act(async (ctx, id: string) => {
      const doc = await findRun(ctx, id);
      if (ctx.flags.json) await ctx.io.json(runJson(doc));
      else await ctx.io.out(statusLines(doc));
      return EXIT.ok;
    }));

  program
    .command('cat')
    .summary("a host's full output of a run (also while it runs)")
    .argument('<run>', 'run id (or an unambiguous prefix)')
    .argument('<host>', 'host alias of the run')
    .option('--follow', 'keep printing as output arrives, until the host is done')
    .option('--tail <n>', 'only the last N lines (then follow, with --follow)', positiveInt('--tail'))
    .option('--raw', 'bytes exactly as the host sent them (terminal escapes included)')
    .action(act(async (ctx, id: string, host: string, o: CatOptions) => {
      const doc = await findRun(ctx, id);
      const entry = hostOf(doc, host);
      if (o.follow) {
        await follow(ctx, doc, host, o);
        return EXIT.ok;
      }
      const files = ctx.store.outputFiles(doc.id, host);
      await catFile(ctx, entry.stdoutFile ?? files.stdout, o);
      await catFile(ctx, entry.stderrFile ?? files.stderr, o);
      return EXIT.ok;
    }));

  program
    .command('cancel')
    .summary('cancel a run (or one host of it) from any process; the remote process group is stopped')
    .argument('<run>', 'run id (or an unambiguous prefix)')
    .argument('[host]', 'only this host')
    .option('--wait <duration>', 'how long to wait for the hosts to stop (default 30s)', durationOption('--wait'), 30_000)
    .action(act(async (ctx, id: string, host: string | undefined, o: { wait: number }) => {
      let doc = await findRun(ctx, id);
      if (host !== undefined) hostOf(doc, host);
      if (allFinal(doc, host)) {
        if (ctx.flags.json) await ctx.io.json({ ...runJson(doc), cancelled: false, reason: 'already finished' });
        else await ctx.io.out(`run ${doc.id} already finished: nothing to cancel\n${statusLines(doc)}`);
        return EXIT.ok;
      }
      await ctx.store.requestCancel(doc.id, host);
      const after = await waitFor(ctx, doc.id, (d) => allFinal(d, host), o.wait);
      doc = after ?? (await ctx.store.read(doc.id)) ?? doc;
      if (ctx.flags.json) await ctx.io.json({ ...runJson(doc), cancelled: !!after });
      else await ctx.io.out(after ? statusLines(doc) : `run ${doc.id}: cancel requested; the hosts had not stopped within ${o.wait} ms\n${statusLines(doc)}`);
      return after ? EXIT.ok : EXIT.unreachable;
    }));

  program
    .command('history')
    .summary('recent runs of every front end (CLI, editor, tasks, agents)')
    .argument('[target]', 'only runs that involve these hosts (alias, group, "all" or comma list)')
    .option('--limit <n>', 'at most N runs (default 20)', positiveInt('--limit'), 20)
    .action(act(async (ctx, target: string | undefined, o: { limit: number }) => {
      let hosts: string[] | undefined;
      if (target !== undefined) {
        try {
          hosts = expandTargets(target, ctx.inventory);
        } catch (err) {
          // A host that left the ssh config still has history: take the names as they are.
          if (!(err instanceof TargetError)) throw err;
          hosts = target.split(',').map((s) => s.trim()).filter(Boolean);
        }
      }
      const { runs, damaged } = await ctx.store.list({ limit: o.limit, hosts });
      if (ctx.flags.json) await ctx.io.json({ runs: runs.map((r) => runJson(r)), damaged });
      else {
        for (const r of runs) await ctx.io.out(historyLine(r));
        if (!runs.length) ctx.io.err(`no runs${target ? ` involving ${target}` : ''} in ${ctx.store.root}\n`);
        if (damaged.length) ctx.io.err(`unreadable run records: ${damaged.join(', ')}\n`);
      }
      return EXIT.ok;
    }));
};

