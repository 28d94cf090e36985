// Flotilla's agent tools: names, argument schemas and descriptions an agent can act on, each a thin call
// into the core (inventory, run engine, run store, push, placement, tmux). Shared by `flotilla mcp` and
// VS Code's agent mode.
import { resolve } from 'node:path';
import * as z from './zod';
import { sanitizeForView } from '../core/exec/output';
import { MetricsCache } from '../core/health/metrics';
import { MAX_TIMEOUT_MS } from '../core/exec/run';
import { checkFleet } from '../core/health/monitor';
import { checkJobRequest, startJob, type Job, type JobRequest } from '../core/jobs/job';
import { isFinal, runExitCode, stateSummary } from '../core/jobs/outcome';
import type { RunDoc } from '../core/jobs/store';
import { waitForRun } from '../core/jobs/wait';
import { applySession, planSession } from '../core/push/push';
import { parseAgentTarget } from '../core/tmux/names';
import { broadcast, capturePane, listAgents } from '../core/tmux/sessions';
import { viewLine as oneLine } from '../core/exec/output';
import { decidePlacement, decisionToJson } from '../core/jobs/placement';
import { newRunId } from '../core/exec/run';
import { WorkflowFileError } from '../core/workflows/parse';
import { PlanError, planWorkflow, type Plan } from '../core/workflows/plan';
import { planJson, scanPushSources } from '../core/workflows/report';
import { startWorkflow } from '../core/workflows/runner';
import { loadWorkflow } from '../core/workflows/templates';
import { VarError } from '../core/workflows/vars';
import { isSettled as allFinal } from '../core/jobs/store';
import { pushToJson } from '../core/push/json';
import { ONE_SHOT_SAMPLE_MS } from '../core/tmux/sessions';
import { deniedBy } from './config';
import { fileSize, readFrom, readTail, readTailLines, shareBudget } from './output';
import { allowedHosts, checkAllowed, defineTool, findRun, targetHosts, ToolError, type CallContext, type ToolDef, type ToolEnv } from './toolkit';

const TARGET = 'a host alias, a group name, "all", or a comma list of those (call hosts to see them)';
const HOSTKEY_HINT = 'the host key is unknown or changed: agent tools never accept host keys; ask the user to verify it (ssh to the host once, or Review Host Keys in VS Code)';

function refuseDenied(env: ToolEnv, text: string, what: string): void {
  const pattern = deniedBy(env.rails, text);
  if (pattern) {
    throw new ToolError(`the ${what} matches the server's deny-list pattern ${pattern}; it was not run`, 'the person running the server decides what is denied; do not try to work around it');
  }
}

/** Resolves after `ms` or when the call is abandoned. */
function pause(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((done) => {
    const timer = setTimeout(finish, ms);
    function finish() { clearTimeout(timer); signal.removeEventListener('abort', finish); done(); }
    signal.addEventListener('abort', finish, { once: true });
  });
}

/** The leading items whose JSON fits in `budget` bytes. */
function withinBudget<T>(items: readonly T[], budget: number): T[] {
  let used = 0;
  const kept: T[] = [];
  for (const item of items) {
    used += Buffer.byteLength(JSON.stringify(item)) + 1;
    if (used > budget) break;
    kept.push(item);
  }
  return kept;
}

function hostState(h: RunDoc['hosts'][number]) {
  return {
    host: h.host,
    state: h.state,
    ...(h.exit !== undefined ? { exit: h.exit } : {}),
    ...(h.signal ? { signal: h.signal } : {}),
    ...(h.reason ? { reason: oneLine(h.reason) } : {}),
    ...(h.remoteStopped !== undefined ? { remote_stopped: h.remoteStopped } : {}),
    ...(h.durationMs !== undefined ? { duration_ms: h.durationMs } : {}),
    ...(h.state === 'hostkey-rejected' ? { hint: HOSTKEY_HINT } : {}),
  };
}

function runHeader(doc: RunDoc) {
  const states = doc.hosts.map((h) => h.state);
  return {
    run_id: doc.id,
    state: doc.state,
    ...(doc.state === 'running' && doc.phase ? { phase: doc.phase } : {}),
    ...(doc.state === 'done' ? { exit_code: runExitCode(states) } : {}),
    summary: doc.hosts.length ? stateSummary(states, ', ') : doc.placement?.explanation ?? 'no host',
    target: doc.target ?? null,
    command: doc.command,
    origin: doc.origin,
    started_at: doc.startedAt,
    ...(doc.finishedAt ? { finished_at: doc.finishedAt } : {}),
    ...(doc.ownerDied ? { owner_died: true } : {}),
  };
}

function outputFilesOf(env: ToolEnv, doc: RunDoc, h: RunDoc['hosts'][number]) {
  const files = env.store.outputFiles(doc.id, h.host);
  return { stdout: h.stdoutFile ?? files.stdout, stderr: h.stderrFile ?? files.stderr };
}

/** The run with every host's output, all of it within the server's output budget. */
async function runWithOutput(env: ToolEnv, doc: RunDoc) {
  const streams = doc.hosts.flatMap((h) => {
    const files = outputFilesOf(env, doc, h);
    return [files.stdout, files.stderr];
  });
  const sizes = await Promise.all(streams.map((f) => fileSize(f)));
  const shares = shareBudget(sizes, env.rails.outputCapBytes);
  let capped = false;
  const hosts = await Promise.all(doc.hosts.map(async (h, i) => {
    const shown: Record<string, unknown> = {};
    for (const [k, stream] of (['stdout', 'stderr'] as const).entries()) {
      const n = i * 2 + k;
      const size = sizes[n]!;
      if (!size) continue;
      const slice = await readTail(streams[n]!, size, shares[n]!);
      shown[stream] = slice.text;
      shown[`${stream}_bytes`] = size;
      if (slice.start > 0) {
        capped = true;
        shown[`${stream}_shown_from`] = slice.start;
      }
    }
    return { ...hostState(h), ...shown };
  }));
  return {
    ...runHeader(doc),
    hosts,
    ...(capped ? {
      output_capped: `output in this answer is capped at ${env.rails.outputCapBytes} bytes for all hosts together; a cut stream shows its last bytes ` +
        `(<stream>_shown_from is the byte offset they start at). Read the rest with run_output {run_id: "${doc.id}", host, offset: 0} or {tail_lines: N}.`,
    } : {}),
    ...(doc.state === 'running' ? { next: `still running: poll run_status {run_id: "${doc.id}"}, read run_output, or stop it with cancel_run` } : {}),
  };
}

const hostsTool = defineTool({
  name: 'hosts',
  title: 'List fleet hosts',
  description: 'List the hosts (ssh config Host aliases) and groups agents may use, with user, address and groups. With status: true each host is probed ' +
    'layer by layer (TCP, ssh handshake and host key, login, a load sample) and gets a state (online, degraded, unusable: auth failed or host key not trusted, offline) with the reason. Changes nothing.',
  input: {
    status: z.optional(z.boolean()).check(z.describe('probe each host and report its layered health (takes up to the connect timeout)')),
    target: z.optional(z.string().check(z.minLength(1))).check(z.describe(`only these hosts: ${TARGET}`)),
  },
  readOnly: true,
  invocation: (a) => `Listing hosts${a.target ? ` of ${a.target}` : ''}${a.status ? ' with health' : ''}`,
  async run(a, env) {
    const inv = env.inventory();
    const allowed = allowedHosts(env);
    const only = a.target === undefined ? allowed : new Set(targetHosts(env, a.target));
    const listed = inv.hosts.filter((h) => only.has(h.alias));
    const health = a.status
      ? await checkFleet(env.pool(), listed.map((h) => h.alias), { connectTimeoutMs: env.connectTimeoutMs(), metrics: new MetricsCache() })
      : undefined;
    const hosts = await Promise.all(listed.map(async (h, i) => {
      const r = await inv.resolve(h.alias);
      const probe = health?.[i];
      return {
        alias: h.alias, user: r.user, hostname: r.hostname, port: r.port, groups: h.groups,
        ...(probe ? {
          state: probe.state,
          ...(probe.reason ? { reason: oneLine(probe.reason) } : {}),
          layers: probe.layers,
          ...(probe.metrics ? { metrics: probe.metrics } : {}),
          ...(probe.hostKey ? { hint: HOSTKEY_HINT } : {}),
        } : {}),
      };
    }));
    const groups = Object.fromEntries([...inv.groups].map(([g, members]) => [g, members.filter((m) => allowed.has(m))]).filter(([, m]) => m.length));
    const shown = withinBudget(hosts, env.rails.outputCapBytes);
    return {
      hosts: shown,
      ...(shown.length < hosts.length ? { more: `${hosts.length - shown.length} more hosts not listed (answer capped at ${env.rails.outputCapBytes} bytes): narrow with target` } : {}),
      groups,
      ...(inv.warnings.length ? { warnings: inv.warnings.map(oneLine) } : {}),
    };
  },
});

const runTool = defineTool({
  name: 'run',
  title: 'Run a command on hosts',
  description: 'Run a shell command on every host of target, in parallel, recorded in the run store with a run id (shared with the flotilla CLI and VS Code). ' +
    'Waits up to wait_s seconds (default set by the server) and returns each host\'s state (ok, failed, killed, timeout, cancelled, lost, unreachable, ' +
    'auth-failed, hostkey-rejected), exit code and output. Output is capped for context windows: the answer says what was cut and how to read the rest ' +
    'with run_output. A run still going after the wait returns its run_id with state "running" (it goes on): poll run_status, read run_output, stop it with cancel_run.',
  input: {
    target: z.string().check(z.minLength(1), z.describe(`where to run: ${TARGET}`)),
    command: z.string().check(z.minLength(1), z.describe('a command line run by /bin/sh on each host (the login shell only starts it, so bash, dash, fish and tcsh accounts behave the same)')),
    cwd: z.optional(z.string().check(z.minLength(1))).check(z.describe('remote working directory (~ and ~/… are the remote home)')),
    timeout_s: z.optional(z.int().check(z.minimum(1), z.maximum(Math.floor(MAX_TIMEOUT_MS / 1000)))).check(z.describe('stop the remote command after this many seconds (default 300); the remote process group is stopped')),
    files: z.optional(z.array(z.string().check(z.minLength(1))).check(z.maxLength(64))).check(z.describe('local files or folders (on the machine running Flotilla) placed in a private temp folder on each host; the command runs there')),
    wait_s: z.optional(z.int().check(z.minimum(0), z.maximum(3600))).check(z.describe('how long to wait for the run to finish before returning its id (default set by the server)')),
  },
  readOnly: false,
  destructive: true,
  confirm: (a) => `Run \`${a.command}\` on **${a.target}**${a.cwd ? ` in \`${a.cwd}\`` : ''}?`,
  invocation: (a) => `Running on ${a.target}`,
  async run(a, env, call) {
    refuseDenied(env, a.command, 'command');
    const hosts = targetHosts(env, a.target);
    const req: JobRequest = {
      target: a.target,
      hosts,
      command: a.command,
      cwd: a.cwd,
      timeoutMs: a.timeout_s === undefined ? undefined : a.timeout_s * 1000,
      origin: env.origin,
      files: a.files?.map((f) => resolve(f)),
    };
    checkJobRequest(req);
    const job = await startRecorded(env, req, call);
    const waitMs = a.wait_s === undefined ? env.rails.waitMs : a.wait_s * 1000;
    let finished = false;
    await Promise.race([job.done.then(() => { finished = true; }), pause(waitMs, call.signal)]);
    const doc = finished ? (await job.done).doc : job.doc();
    return runWithOutput(env, doc);
  },
});

/** Starts a run this process owns, reporting progress (hosts started and finished) while the caller waits. */
async function startRecorded(env: ToolEnv, req: JobRequest, call: CallContext): Promise<Job> {
  let started = 0;
  let finished = 0;
  const total = req.hosts.length * 2;
  const job = await startJob({ store: env.store, pool: env.pool(), connectTimeoutMs: env.connectTimeoutMs(), check: env.check }, req, {
    on: (e) => {
      if (e.type !== 'host-start' && e.type !== 'host-done') return;
      if (e.type === 'host-start') started++; else finished++;
      call.progress?.({ progress: started + finished, total, message: `${finished} of ${req.hosts.length} host${req.hosts.length === 1 ? '' : 's'} finished` });
    },
  });
  env.jobs.add(job);
  void job.done.finally(() => env.jobs.delete(job));
  return job;
}

const runStatusTool = defineTool({
  name: 'run_status',
  title: 'State of a run',
  description: 'The state of a recorded run (from this server, the flotilla CLI or VS Code) and of each of its hosts: state, exit code, reason, duration, ' +
    'and how many bytes of output each host wrote. Read the output itself with run_output. Changes nothing.',
  input: { run_id: z.string().check(z.minLength(1), z.describe('run id (or an unambiguous prefix) from run or history')) },
  readOnly: true,
  async run(a, env) {
    const doc = await findRun(env, a.run_id);
    const hosts = await Promise.all(doc.hosts.map(async (h) => {
      const files = outputFilesOf(env, doc, h);
      return { ...hostState(h), stdout_bytes: await fileSize(files.stdout), stderr_bytes: await fileSize(files.stderr) };
    }));
    return { ...runHeader(doc), ...(doc.placement ? { placement: doc.placement } : {}), hosts };
  },
});

const runOutputTool = defineTool({
  name: 'run_output',
  title: 'Read a host\'s output of a run',
  description: 'Read one host\'s output of a run from the run store (also while it runs), in pieces that fit a context window: from a byte offset ' +
    '(offset, then next_offset to go on) or the last tail_lines lines; at most max_bytes (default and ceiling set by the server). Terminal escapes are removed. Changes nothing.',
  input: {
    run_id: z.string().check(z.minLength(1), z.describe('run id (or an unambiguous prefix)')),
    host: z.string().check(z.minLength(1), z.describe('host alias of the run')),
    stream: z.optional(z.enum(['stdout', 'stderr'])).check(z.describe('which output (default stdout)')),
    tail_lines: z.optional(z.int().check(z.minimum(1))).check(z.describe('only the last N lines')),
    offset: z.optional(z.int().check(z.minimum(0))).check(z.describe('byte offset to read from (default: the start)')),
    max_bytes: z.optional(z.int().check(z.minimum(1))).check(z.describe('at most this many bytes (capped by the server\'s output limit)')),
  },
  readOnly: true,
  async run(a, env) {
    if (a.tail_lines !== undefined && a.offset !== undefined) throw new ToolError('give tail_lines or offset, not both');
    const doc = await findRun(env, a.run_id);
    const entry = doc.hosts.find((h) => h.host === a.host);
    if (!entry) throw new ToolError(`run ${doc.id} has no host ${JSON.stringify(a.host)}`, doc.hosts.length ? `its hosts: ${doc.hosts.map((h) => h.host).join(', ')}` : 'it has no host yet');
    const stream = a.stream ?? 'stdout';
    const file = outputFilesOf(env, doc, entry)[stream];
    const size = await fileSize(file);
    const max = Math.min(a.max_bytes ?? env.rails.outputCapBytes, env.rails.outputCapBytes);
    const slice = a.tail_lines !== undefined ? await readTailLines(file, size, a.tail_lines, max) : await readFrom(file, Math.min(a.offset ?? 0, size), max);
    const more = slice.end < size;
    return {
      run_id: doc.id,
      host: entry.host,
      stream,
      host_state: entry.state,
      total_bytes: size,
      offset: slice.start,
      ...(more ? { next_offset: slice.end } : {}),
      ...('lines' in slice ? { lines: slice.lines } : {}),
      complete: slice.start === 0 && !more && isFinal(entry.state),
      text: slice.text,
    };
  },
});

const cancelRunTool = defineTool({
  name: 'cancel_run',
  title: 'Cancel a run',
  description: 'Cancel a running run (or only one host of it), wherever it was started (this server, the CLI, VS Code): the remote process group is ' +
    'stopped. Waits up to 30 s for the hosts to stop and returns their states.',
  input: {
    run_id: z.string().check(z.minLength(1), z.describe('run id (or an unambiguous prefix)')),
    host: z.optional(z.string().check(z.minLength(1))).check(z.describe('only this host of the run')),
  },
  readOnly: false,
  destructive: false,
  idempotent: true,
  confirm: (a) => `Cancel run \`${a.run_id}\`${a.host ? ` on **${a.host}**` : ''}?`,
  invocation: (a) => `Cancelling ${a.run_id}`,
  async run(a, env, call) {
    const doc = await findRun(env, a.run_id);
    if (a.host !== undefined && !doc.hosts.some((h) => h.host === a.host)) {
      throw new ToolError(`run ${doc.id} has no host ${JSON.stringify(a.host)}`, `its hosts: ${doc.hosts.map((h) => h.host).join(', ')}`);
    }
    if (allFinal(doc, a.host)) return { ...runHeader(doc), cancelled: false, reason: 'already finished', hosts: doc.hosts.map(hostState) };
    await env.store.requestCancel(doc.id, a.host);
    const after = await waitForRun(env.store, doc.id, (d) => allFinal(d, a.host), 30_000, call.signal);
    const now = after ?? (await env.store.read(doc.id)) ?? doc;
    return {
      ...runHeader(now),
      cancelled: !!after,
      ...(after ? {} : { reason: 'cancel requested; the hosts had not stopped within 30 s (check again with run_status)' }),
      hosts: now.hosts.map(hostState),
    };
  },
});

const historyTool = defineTool({
  name: 'history',
  title: 'Recent runs',
  description: 'Recent recorded runs of every front end (this server, other agents, the flotilla CLI, VS Code, tasks), newest first, with id, origin, ' +
    'command, target and per-state host counts. Changes nothing.',
  input: {
    target: z.optional(z.string().check(z.minLength(1))).check(z.describe(`only runs that involve these hosts: ${TARGET}`)),
    limit: z.optional(z.int().check(z.minimum(1), z.maximum(200))).check(z.describe('at most this many runs (default 20)')),
  },
  readOnly: true,
  async run(a, env) {
    const hosts = a.target === undefined ? (env.rails.allow ? [...allowedHosts(env)] : undefined) : targetHosts(env, a.target);
    const { runs, damaged } = await env.store.list({ limit: a.limit ?? 20, hosts });
    const listed = runs.map((doc) => ({ ...runHeader(doc), command: oneLine(doc.command).slice(0, 200), started_by: doc.startedBy }));
    const shown = withinBudget(listed, env.rails.outputCapBytes);
    return {
      runs: shown,
      ...(shown.length < listed.length ? { more: `${listed.length - shown.length} more runs not listed (answer capped at ${env.rails.outputCapBytes} bytes): lower limit or narrow with target` } : {}),
      ...(damaged.length ? { damaged } : {}),
    };
  },
});

const MAX_LISTED_PATHS = 200;

const countsOf = (p: { create: string[]; update: string[]; delete: string[]; unchanged: number }) =>
  ({ create: p.create.length, update: p.update.length, delete: p.delete.length, unchanged: p.unchanged });

const pushPlanTool = defineTool({
  name: 'push_plan',
  title: 'Plan a push (writes nothing)',
  description: 'Plan copying a local folder (on the machine running Flotilla) to a remote folder on every host of target: per host, which files would be ' +
    'created, updated and (with delete: true) deleted. Honours .gitignore and .flotillaignore. Writes nothing anywhere. Returns a plan_id: push_apply ' +
    'with it carries out exactly this plan.',
  input: {
    target: z.string().check(z.minLength(1), z.describe(`hosts to push to: ${TARGET}`)),
    local: z.string().check(z.minLength(1), z.describe('local folder (relative paths are relative to the folder the server runs in)')),
    remote: z.string().check(z.minLength(1), z.describe('remote destination folder (~/… is the remote home)')),
    delete: z.optional(z.boolean()).check(z.describe('also delete remote files that are not in the local folder (default false)')),
  },
  readOnly: true,
  invocation: (a) => `Planning a push of ${a.local} to ${a.target}:${a.remote}`,
  async run(a, env, call) {
    const hosts = targetHosts(env, a.target);
    const local = resolve(a.local);
    const session = await planSession(env.pool(), hosts, local, a.remote, { delete: a.delete, signal: call.signal }).catch((err: Error) => {
      if (/does not exist|neither a folder|cannot read/.test(err.message)) throw new ToolError(`local: ${err.message}`, 'give an existing local folder or file');
      throw err;
    });
    const plans = session.plans;
    const stored = env.plans.add({ target: a.target, hosts, session });
    const json = pushToJson(plans);
    let listedAll = true;
    const cap = (paths: string[]) => {
      if (paths.length <= MAX_LISTED_PATHS) return paths;
      listedAll = false;
      return paths.slice(0, MAX_LISTED_PATHS);
    };
    return {
      plan_id: stored.id,
      local,
      remote: a.remote,
      delete: !!a.delete,
      hosts: json.hosts.map((h) => ({
        ...h,
        counts: countsOf(h.plan),
        plan: { create: cap(h.plan.create), update: cap(h.plan.update), delete: cap(h.plan.delete) },
      })),
      ...(listedAll ? {} : { note: `path lists are cut at ${MAX_LISTED_PATHS} per kind; counts are complete` }),
      next: `apply exactly this plan with push_apply {plan_id: "${stored.id}"}; it is refused if the local folder changes first`,
    };
  },
});

const pushApplyTool = defineTool({
  name: 'push_apply',
  title: 'Apply a push plan',
  description: 'Carry out a plan made by push_plan, exactly as planned (files written to a temp name and renamed into place; deletions only if the plan ' +
    'has them). Refused if the local folder changed since the plan (make a new one). A plan is applied once and expires after an hour.',
  input: { plan_id: z.string().check(z.minLength(1), z.describe('plan_id returned by push_plan')) },
  readOnly: false,
  destructive: true,
  confirm: () => 'Apply the push plan (write, and delete where the plan says so, on the hosts)?',
  invocation: (a) => `Applying ${a.plan_id}`,
  async run(a, env, call) {
    const plan = env.plans.get(a.plan_id);
    if (!plan) throw new ToolError(`no push plan ${JSON.stringify(a.plan_id)} (plans live in this server, are applied once and expire after an hour)`, 'make one with push_plan');
    checkAllowed(env, plan.hosts);
    env.plans.take(plan.id);
    const applied = await applySession(env.pool(), plan.session, { signal: call.signal });
    if (applied.kind === 'local-changed') {
      const changed = applied.paths;
      throw new ToolError(
        `the local ${plan.session.source.root} changed since plan ${plan.id} (${changed.length} path${changed.length === 1 ? '' : 's'}: ${changed.slice(0, 5).join(', ')}${changed.length > 5 ? ', …' : ''}); nothing was written`,
        'make a new plan with push_plan and apply that one',
      );
    }
    const results = applied.results;
    const json = pushToJson(plan.session.plans, results);
    return {
      plan_id: plan.id,
      hosts: json.hosts.map((h, i) => ({
        host: h.host,
        state: h.state,
        ...(h.reason ? { reason: oneLine(h.reason) } : {}),
        counts: countsOf(h.plan),
        bytes: results[i]?.bytes ?? 0,
        ...(h.deleteBlocked ? { deleteBlocked: h.deleteBlocked } : {}),
        errors: h.errors.slice(0, MAX_LISTED_PATHS),
      })),
    };
  },
});

const placeTool = defineTool({
  name: 'place',
  title: 'Least-loaded host',
  description: 'Measure the hosts of target (CPU load per core and a busy sample, memory, disk) and say which one would take work now, with the ' +
    'scores and why each other host lost or was excluded. Runs nothing and reserves nothing.',
  input: {
    target: z.string().check(z.minLength(1), z.describe(`candidate hosts: ${TARGET}`)),
    cwd: z.optional(z.string().check(z.minLength(1))).check(z.describe('the remote folder whose disk counts (default the remote home)')),
  },
  readOnly: true,
  async run(a, env) {
    const hosts = targetHosts(env, a.target);
    return decisionToJson(await decidePlacement({ pool: env.pool(), storeRoot: env.store.root, connectTimeoutMs: env.connectTimeoutMs() }, hosts, { diskPath: a.cwd, record: false }));
  },
});

const agentsListTool = defineTool({
  name: 'agents_list',
  title: 'List agent sessions (tmux panes)',
  description: 'List the tmux panes on hosts where coding agents (Claude Code, Codex, aider, shells) run, each with its target (host:session:window), ' +
    'the program, the folder, and whether it is waiting for input, working or idle. Changes nothing.',
  input: { target: z.optional(z.string().check(z.minLength(1))).check(z.describe(`hosts to look at: ${TARGET} (default every allowed host)`)) },
  readOnly: true,
  async run(a, env) {
    const aliases = a.target === undefined ? [...allowedHosts(env)] : targetHosts(env, a.target);
    const found = await Promise.all(aliases.map((alias) => listAgents(env.pool(), alias, undefined, { sampleMs: ONE_SHOT_SAMPLE_MS })));
    return {
      hosts: found.map((h) => ({
        host: h.host,
        state: h.state,
        ...(h.state === 'error' ? { message: oneLine(h.message) } : {}),
        panes: h.state !== 'ok' ? [] : h.sessions.flatMap((s) => s.windows.flatMap((w) => w.panes.map((p) => ({
          target: p.target,
          attention: p.attention,
          command: oneLine(p.command),
          cwd: oneLine(p.cwd),
          attached: s.attachedClients > 0,
          last_activity: w.lastActivityMs ? new Date(w.lastActivityMs).toISOString() : null,
        })))),
      })),
    };
  },
});

const agentsPeekTool = defineTool({
  name: 'agents_peek',
  title: 'Read an agent pane',
  description: 'The last lines of a tmux pane (what the agent there shows now), terminal escapes removed. Changes nothing.',
  input: {
    target: z.string().check(z.minLength(1), z.describe('HOST:SESSION[:WINDOW[.PANE]] as listed by agents_list')),
    lines: z.optional(z.int().check(z.minimum(1), z.maximum(10_000))).check(z.describe('lines of history above the screen (default 40)')),
  },
  readOnly: true,
  async run(a, env) {
    const t = parseAgentTarget(a.target);
    targetHosts(env, t.host);
    const text = sanitizeForView(await capturePane(env.pool(), t, a.lines ?? 40)).replace(/\n+$/, '\n');
    const bytes = Buffer.byteLength(text);
    const cap = env.rails.outputCapBytes;
    return bytes <= cap ? { target: a.target, text } : { target: a.target, text: Buffer.from(text).subarray(bytes - cap).toString('utf8').replace(/^[^\n]*\n/, ''), cut: `showing the end (${cap} of ${bytes} bytes)` };
  },
});

const agentsSendTool = defineTool({
  name: 'agents_send',
  title: 'Type into agent panes',
  description: 'Type text literally into one or more tmux panes (agents or shells) and press Enter unless enter is false. Check the pane with agents_peek first.',
  input: {
    targets: z.array(z.string().check(z.minLength(1))).check(z.minLength(1), z.maxLength(64), z.describe('panes: HOST:SESSION[:WINDOW[.PANE]] each, as listed by agents_list')),
    text: z.string().check(z.describe('text typed literally (no key names)')),
    enter: z.optional(z.boolean()).check(z.describe('press Enter after the text (default true)')),
  },
  readOnly: false,
  destructive: true,
  confirm: (a) => `Type ${JSON.stringify(a.text)}${a.enter === false ? '' : ' and Enter'} into ${a.targets.map((t) => `**${t}**`).join(', ')}?`,
  invocation: (a) => `Typing into ${a.targets.join(', ')}`,
  async run(a, env) {
    refuseDenied(env, a.text, 'text');
    const parsed = a.targets.map((t) => parseAgentTarget(t));
    checkAllowed(env, parsed.map((t) => targetHosts(env, t.host)[0]!));
    const results = await broadcast(env.pool(), a.targets, a.text, { enter: a.enter ?? true });
    return { results: results.map((r) => (r.ok ? r : { ...r, error: oneLine(r.error) })) };
  },
});

/** Every command a workflow would run, for the deny-list. */
function planScripts(plan: Plan): string[] {
  return plan.stages.flatMap((s) => [...s.steps, ...s.onFailure]).flatMap((step) => Object.values(step.actions))
    .flatMap((a) => (a.kind === 'run' || a.kind === 'gate' ? [a.script] : []));
}

const workflowRunTool = defineTool({
  name: 'workflow_run',
  title: 'Run a workflow',
  description: 'Run a Flotilla workflow: a YAML file of stages (hosts, serial batches, max_fail, confirm) with run, push, pull, gate and place steps and ' +
    'on_failure rollbacks, or builtin:NAME (deploy, rolling-restart, backup, sync, health-check). With dry_run true it returns the plan (every stage, ' +
    'batch and exact command per host) and contacts nothing: show that to the user first. A stage with confirm: true starts only when confirm_stages ' +
    'is true. Waits for the end and returns the workflow run id, each stage\'s and host\'s outcome and the run ids of its steps (read them with run_status/run_output).',
  input: {
    file: z.string().check(z.minLength(1), z.describe('path of the workflow YAML (on the machine running Flotilla), or builtin:NAME')),
    dry_run: z.optional(z.boolean()).check(z.describe('only plan: contacts nothing, changes nothing')),
    vars: z.optional(z.record(z.string(), z.string())).check(z.describe('values for the workflow\'s declared vars/params, like --var name=value')),
    confirm_stages: z.optional(z.boolean()).check(z.describe('the user agreed to the stages marked confirm: true (default false: such a workflow is refused)')),
  },
  readOnly: false,
  destructive: true,
  confirm: (a) => `${a.dry_run ? 'Plan' : 'Run'} the workflow \`${a.file}\`${a.confirm_stages ? ', confirmed stages included' : ''}?`,
  invocation: (a) => `${a.dry_run ? 'Planning' : 'Running'} workflow ${a.file}`,
  async run(a, env, call) {
    let plan: Plan;
    try {
      const workflow = await loadWorkflow(a.file);
      plan = planWorkflow({ workflow, overrides: a.vars ?? {}, resolveHosts: (t) => targetHosts(env, t), baseDir: process.cwd(), runId: newRunId() });
    } catch (err) {
      if (err instanceof WorkflowFileError || err instanceof VarError || err instanceof PlanError || (err instanceof Error && err.message.startsWith('no built-in workflow'))) {
        throw new ToolError(err.message, 'fix the workflow file or the vars named; nothing was run');
      }
      throw err;
    }
    checkAllowed(env, [...new Set(plan.stages.flatMap((s) => s.hosts))]);
    for (const script of planScripts(plan)) refuseDenied(env, script, 'workflow command');
    if (a.dry_run) return planJson(plan, await scanPushSources(plan));
    const asking = plan.stages.filter((s) => s.confirm);
    if (asking.length && !a.confirm_stages) {
      throw new ToolError(
        `stage ${asking.map((s) => JSON.stringify(s.name)).join(', ')} of workflow ${plan.workflow.name} asks for confirmation`,
        'show the user the dry run (dry_run: true) and call again with confirm_stages: true if they agree; nothing was run',
      );
    }
    const run = await startWorkflow({ store: env.store, pool: env.pool(), connectTimeoutMs: env.connectTimeoutMs() }, plan, {
      origin: env.origin, signal: call.signal, confirm: async () => true,
    });
    return run.done;
  },
});

export const TOOLS: readonly ToolDef[] = [
  hostsTool, runTool, runStatusTool, runOutputTool, cancelRunTool, historyTool, pushPlanTool, pushApplyTool, placeTool,
  agentsListTool, agentsPeekTool, agentsSendTool, workflowRunTool,
];
