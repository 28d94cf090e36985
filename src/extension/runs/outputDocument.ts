// The text of a run's output document, like `dshbak -c`: hosts with identical output share one block,
// then one section per host. All remote text is sanitized, and framing makes forged headers impossible:
// in the grouped blocks every remote line starts with GUTTER, in the per-host sections with `[host] `,
// and only Flotilla's own lines start anywhere else.
import { coalesce, prefixLines, sanitizeForView } from '../../core/exec/output';
import type { CappedText, HostOutputs } from './outputSource';
import { hostRan } from './outputSource';
import { formatDuration, hostDescription, runDurationMs, sortedRows, stateCounts, type RowState, type RunEntry } from './runModel';
import { oneLine } from '../../core/text';

/** Starts every line of remote output in a grouped block. */
export const GUTTER = '  │ ';
/** Starts Flotilla's notes inside a block (stderr heading, cut markers, "no output"). */
export const NOTE = '  ┆ ';
const RULE = '━━━━';

type BodyLine = { remote: string } | { note: string };

function hostLabel(host: string): string {
  return sanitizeForView(host).replace(/\n/g, ' ');
}

function bytes(n: number): string {
  if (n < 1024) return `${n} bytes`;
  if (n < 1024 * 1024) return `${+(n / 1024).toFixed(1)} KiB`;
  return `${+(n / 1024 / 1024).toFixed(1)} MiB`;
}

function cutNote(stream: string, t: CappedText): string | undefined {
  if (t.missing) return `${stream}: ${t.missing}`;
  if (t.totalBytes <= t.shownBytes) return undefined;
  return `${stream} cut: showing the first ${bytes(t.shownBytes)} of ${bytes(t.totalBytes)}; the full output is on disk (path in the per-host section)`;
}

function splitLines(text: string): string[] {
  const clean = sanitizeForView(text);
  if (clean === '') return [];
  return (clean.endsWith('\n') ? clean.slice(0, -1) : clean).split('\n');
}

/** A host's output as lines: stdout, then stderr under a note, with cut notes. Host-independent, so it can be compared. */
export function bodyLines(out: HostOutputs): BodyLine[] {
  const lines: BodyLine[] = splitLines(out.stdout.text).map((remote) => ({ remote }));
  const stdoutCut = cutNote('stdout', out.stdout);
  if (stdoutCut) lines.push({ note: stdoutCut });
  const stderr = splitLines(out.stderr.text);
  const stderrCut = cutNote('stderr', out.stderr);
  if (stderr.length || stderrCut) {
    lines.push({ note: 'stderr:' });
    for (const remote of stderr) lines.push({ remote });
    if (stderrCut) lines.push({ note: stderrCut });
  }
  if (!lines.length) lines.push({ note: '(no output)' });
  return lines;
}

function renderBody(lines: readonly BodyLine[]): string {
  return lines.map((l) => ('remote' in l ? GUTTER + l.remote : NOTE + l.note)).join('\n');
}

/** Plain text of one host's output for the diff editor (sanitized; stderr after a marker line). */
export function plainText(out: HostOutputs): string {
  return bodyLines(out).map((l) => ('remote' in l ? l.remote : `--- ${l.note}`)).join('\n') + '\n';
}

function statesOf(hosts: readonly string[], run: RunEntry): string {
  const counts = new Map<RowState, number>();
  for (const h of hosts) {
    const s = run.rows.get(h)?.state ?? 'pending';
    counts.set(s, (counts.get(s) ?? 0) + 1);
  }
  if (counts.size === 1) return [...counts.keys()][0]!;
  return [...counts].map(([s, n]) => `${s} ×${n}`).join(', ');
}

/** Groups of hosts (that ran) with identical output, biggest first. */
export function outputGroups(run: RunEntry, outputs: ReadonlyMap<string, HostOutputs>): Array<{ hosts: string[]; lines: BodyLine[] }> {
  const ran = sortedRows(run).filter((r) => hostRan(r) && outputs.has(r.host));
  const bodies = new Map(ran.map((r) => [r.host, bodyLines(outputs.get(r.host)!)]));
  const groups = coalesce(ran.map((r) => ({ host: r.host, text: JSON.stringify(bodies.get(r.host)) })));
  return groups.map((g) => ({ hosts: g.hosts, lines: bodies.get(g.hosts[0]!)! }));
}

export interface RenderOptions {
  capBytes: number;
  now?: number;
}

export function renderRunDocument(run: RunEntry, outputs: ReadonlyMap<string, HostOutputs>, opts: RenderOptions): string {
  const now = opts.now ?? Date.now();
  const rows = sortedRows(run);
  const out: string[] = [];
  const status = run.finishedAt ? `${stateCounts(run)} · ${formatDuration(runDurationMs(run, now))}` : `running · ${stateCounts(run)}`;
  out.push(`Flotilla run ${run.id}`);
  out.push(`Command:  ${oneLine(run.command, 500)}`);
  if (run.cwd) out.push(`In:       ${oneLine(run.cwd, 500)}`);
  out.push(`Targets:  ${rows.length} host${rows.length === 1 ? '' : 's'}${run.targetKey ? ` (${oneLine(run.targetKey, 200)})` : ''} · ${status}`);
  if (run.placement) {
    const among = run.placement.candidates;
    out.push(`Placed:   least-loaded of ${among.length} host${among.length === 1 ? '' : 's'} (${oneLine(among.join(', '), 300)}): ${run.placement.chosen ?? 'none chosen'}`);
    out.push(`Why:      ${oneLine(run.placement.explanation.split('\n').pop() ?? '', 500)}`);
  }
  out.push(`Started:  ${run.startedAt} from ${run.origin}`);
  if (run.outputDir) out.push(`On disk:  ${run.outputDir} (full output of every host)`);
  out.push(`Remote output lines start with "${GUTTER.trim()}" when grouped and with "[host]" per host;`);
  out.push(`up to ${bytes(opts.capBytes)} per host and stream is shown here (setting flotilla.run.viewCapKB).`);
  out.push('');

  const groups = outputGroups(run, outputs);
  if (groups.length) {
    out.push(`${RULE} Output, hosts with identical output grouped ${RULE}`, '');
    for (const g of groups) {
      const n = g.hosts.length;
      out.push(`${RULE} ${g.hosts.map(hostLabel).join(', ')} (${n} host${n === 1 ? '' : 's'}) · ${statesOf(g.hosts, run)}`);
      out.push(renderBody(g.lines), '');
    }
  }

  const notRun = rows.filter((r) => !hostRan(r));
  if (notRun.length) {
    out.push(`${RULE} Did not run ${RULE}`);
    for (const r of notRun) out.push(`${hostLabel(r.host)}: ${r.state} · ${hostDescription(r, now)}`);
    out.push('');
  }

  const ran = rows.filter((r) => hostRan(r) && outputs.has(r.host));
  if (ran.length) {
    out.push(`${RULE} Per host ${RULE}`, '');
    for (const r of ran) {
      const o = outputs.get(r.host)!;
      const host = hostLabel(r.host);
      out.push(`■ ${host} · ${r.state} · ${hostDescription(r, now)} · stdout ${bytes(o.stdout.totalBytes)} · stderr ${bytes(o.stderr.totalBytes)}`);
      for (const [stream, t] of [['stdout', o.stdout], ['stderr', o.stderr]] as const) {
        if (t.file && (t.totalBytes > t.shownBytes || t.missing)) out.push(`${NOTE}${stream} is cut here; full output: ${t.file}${t.missing ? ` (${t.missing})` : ''}`);
      }
      out.push(prefixLines(r.host, o.stdout.text) + prefixLines(`${r.host} stderr`, o.stderr.text));
    }
  }
  return out.join('\n');
}
