// Workflow files: YAML (the `yaml` package, with positions) → schema check (ajv) → the plain model, with
// the checks a schema cannot express (known variables, durations, place first). Every problem is named
// with file:line:col, all of them at once, and nothing is run from a file that has one.
import { readFile } from 'node:fs/promises';
import { isMap, isPair, isScalar, LineCounter, parseDocument, type Document } from 'yaml';
import { DurationError, parseDuration } from '../duration';
import { MAX_TIMEOUT_MS } from '../exec/run';
import { BUILTIN_VARS, GATE_DEFAULTS, type Serial, type SourcePos, type Stage, type Step, type Workflow } from './model';
import { pathText, schemaProblems } from './schema';
import { references, VarError } from './vars';

export interface Problem extends SourcePos {
  message: string;
}

export class WorkflowFileError extends Error {
  constructor(readonly file: string, readonly problems: readonly Problem[]) {
    super(problems.map((p) => `${file}:${p.line}:${p.col}: ${p.message}`).join('\n'));
  }
}

type Path = (string | number)[];

/** Positions of values and keys in the YAML source. */
class Locator {
  constructor(private readonly doc: Document, private readonly lines: LineCounter) {}

  at(path: readonly (string | number)[], atKey = false): SourcePos {
    for (let n = path.length; n >= 0; n--) {
      const head = path.slice(0, n);
      const node = head.length ? this.doc.getIn(head, true) : this.doc.contents;
      if (atKey && n === path.length && n > 0) {
        const parent = this.doc.getIn(path.slice(0, -1), true) ?? (n === 1 ? this.doc.contents : undefined);
        const pair = isMap(parent) ? parent.items.find((p) => isPair(p) && isScalar(p.key) && p.key.value === path[n - 1]) : undefined;
        const range = pair && isScalar(pair.key) ? pair.key.range : undefined;
        if (range) return this.pos(range[0]);
      }
      const range = (node as { range?: [number, number, number] } | null | undefined)?.range;
      if (range) return this.pos(range[0]);
    }
    return { line: 1, col: 1 };
  }

  private pos(offset: number): SourcePos {
    return this.lines.linePos(offset);
  }
}

interface RawStep {
  name?: string; run?: string; cwd?: string; timeout?: number | string; files?: string[];
  push?: { from: string; to: string; delete?: boolean; exclude?: string[] };
  pull?: { from: string; to: string };
  gate?: { run?: string; http?: string; retries?: number; interval?: number | string; timeout?: number | string };
  place?: 'least-loaded';
}
interface RawStage {
  name: string; hosts: string | string[]; serial?: number | string; max_fail?: number | string; confirm?: boolean;
  steps: RawStep[]; on_failure?: RawStep[];
}
interface RawWorkflow {
  name: string; description?: string;
  vars?: Record<string, string | number | boolean>;
  params?: Record<string, { description?: string; default?: string | number | boolean }>;
  stages: RawStage[];
}

/** Builds the model from a schema-valid document, collecting what the schema cannot check. */
class ModelBuilder {
  readonly problems: Problem[] = [];
  private readonly known: Set<string>;

  constructor(private readonly raw: RawWorkflow, private readonly where: Locator) {
    this.known = new Set([...Object.keys(raw.vars ?? {}), ...Object.keys(raw.params ?? {}), ...Object.keys(BUILTIN_VARS)]);
  }

  private problem(path: Path, message: string, atKey = false): void {
    this.problems.push({ ...this.where.at(path, atKey), message });
  }

  private duration(value: number | string | undefined, path: Path): number | undefined {
    if (value === undefined) return undefined;
    try {
      const ms = typeof value === 'number' ? Math.round(value * 1000) : parseDuration(value, pathText(path));
      if (ms > MAX_TIMEOUT_MS) this.problem(path, `${pathText(path)} is longer than the 24 days a timer can wait`);
      return ms;
    } catch (err) {
      if (err instanceof DurationError) { this.problem(path, err.message); return undefined; }
      throw err;
    }
  }

  /** A string that may use `{{ name }}`: every name must be known (`host` only where a host is meant). */
  private text(value: string, path: Path, opts: { host?: boolean } = { host: true }): string {
    try {
      for (const name of references(value)) {
        if (!this.known.has(name)) {
          const guess = [...this.known].find((k) => k.toLowerCase() === name.toLowerCase());
          this.problem(path, `{{ ${name} }} is not defined${guess ? ` (did you mean {{ ${guess} }}?)` : ''}: declare it under vars or params, or use one of ${Object.keys(BUILTIN_VARS).join(', ')}`);
        } else if (name === 'host' && opts.host === false) {
          this.problem(path, `{{ host }} cannot be used in ${pathText(path)}: it names the hosts, so no host is known yet`);
        }
      }
    } catch (err) {
      if (err instanceof VarError) this.problem(path, err.message);
      else throw err;
    }
    return value;
  }

  private pos(path: Path): SourcePos {
    return this.where.at(path);
  }

  build(file: string | undefined): Workflow {
    const r = this.raw;
    const vars: Record<string, string> = {};
    for (const [k, v] of Object.entries(r.vars ?? {})) {
      vars[k] = String(v);
      if (/\{\{|\}\}/.test(vars[k]!)) this.problem(['vars', k], `vars.${k}: a value cannot refer to other variables`);
    }
    const params: Workflow['params'] = {};
    for (const [k, p] of Object.entries(r.params ?? {})) {
      if (k in vars) this.problem(['params', k], `${k} is both a var and a param: keep one`, true);
      if (k in BUILTIN_VARS) this.problem(['params', k], `${k} is a built-in variable and cannot be a param`, true);
      params[k] = { description: p.description, default: p.default === undefined ? undefined : String(p.default) };
    }
    for (const k of Object.keys(vars)) if (k in BUILTIN_VARS) this.problem(['vars', k], `${k} is a built-in variable and cannot be set under vars`, true);
    const names = new Set<string>();
    const stages = r.stages.map((s, i) => {
      if (names.has(s.name)) this.problem(['stages', i, 'name'], `two stages are named ${JSON.stringify(s.name)}: stage names must differ`);
      names.add(s.name);
      return this.stage(s, ['stages', i]);
    });
    return { name: r.name, description: r.description, file, vars, params, stages };
  }

  private stage(s: RawStage, at: Path): Stage {
    const hosts = (typeof s.hosts === 'string' ? [s.hosts] : s.hosts).map((h, i) => this.text(h, typeof s.hosts === 'string' ? [...at, 'hosts'] : [...at, 'hosts', i], { host: false }));
    let serial: Serial | undefined;
    if (typeof s.serial === 'number') serial = { count: s.serial };
    else if (typeof s.serial === 'string') serial = { percent: Number(s.serial.replace('%', '').trim()) };
    const steps = s.steps.map((st, i) => this.step(st, [...at, 'steps', i]));
    const onFailure = (s.on_failure ?? []).map((st, i) => this.step(st, [...at, 'on_failure', i]));
    steps.forEach((st, i) => {
      if (st.kind !== 'place') return;
      if (i > 0) this.problem([...at, 'steps', i], 'place must be the first step of its stage: it picks the host the whole stage runs on');
      if (serial) this.problem([...at, 'serial'], 'a stage with place runs on one host: serial does not apply');
    });
    onFailure.forEach((st, i) => { if (st.kind === 'place') this.problem([...at, 'on_failure', i], 'on_failure runs on the failed batch: it cannot place'); });
    return { name: s.name, hosts, serial, maxFail: typeof s.max_fail === 'string' ? { percent: Number(s.max_fail.replace('%', '').trim()) } : { count: s.max_fail ?? 0 }, confirm: s.confirm ?? false, steps, onFailure, pos: this.pos(at) };
  }

  private step(s: RawStep, at: Path): Step {
    const base = { ...(s.name !== undefined ? { name: s.name } : {}), pos: this.pos(at) };
    if (s.run !== undefined) {
      return {
        ...base, kind: 'run', command: this.text(s.run, [...at, 'run']),
        ...(s.cwd !== undefined ? { cwd: this.text(s.cwd, [...at, 'cwd']) } : {}),
        ...(s.timeout !== undefined ? { timeoutMs: this.duration(s.timeout, [...at, 'timeout']) } : {}),
        ...(s.files ? { files: s.files.map((f, i) => this.text(f, [...at, 'files', i])) } : {}),
      };
    }
    if (s.push) {
      return {
        ...base, kind: 'push', from: this.text(s.push.from, [...at, 'push', 'from']), to: this.text(s.push.to, [...at, 'push', 'to']),
        ...(s.push.delete ? { delete: true } : {}), ...(s.push.exclude ? { exclude: s.push.exclude } : {}),
      };
    }
    if (s.pull) return { ...base, kind: 'pull', from: this.text(s.pull.from, [...at, 'pull', 'from']), to: this.text(s.pull.to, [...at, 'pull', 'to']) };
    if (s.gate) {
      const g = s.gate;
      return {
        ...base, kind: 'gate',
        check: g.run !== undefined ? { run: this.text(g.run, [...at, 'gate', 'run']) } : { http: this.text(g.http!, [...at, 'gate', 'http']) },
        retries: g.retries ?? GATE_DEFAULTS.retries,
        intervalMs: this.duration(g.interval, [...at, 'gate', 'interval']) ?? GATE_DEFAULTS.intervalMs,
        timeoutMs: this.duration(g.timeout, [...at, 'gate', 'timeout']) ?? GATE_DEFAULTS.timeoutMs,
      };
    }
    return { ...base, kind: 'place', strategy: s.place! };
  }
}

/** Parses and checks a workflow; throws WorkflowFileError listing every problem with file:line:col. */
export function parseWorkflow(text: string, file = '<workflow>'): Workflow {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: true, uniqueKeys: true });
  if (doc.errors.length) throw new WorkflowFileError(file, yamlProblems(doc, text));
  const data: unknown = doc.toJS({ maxAliasCount: 100 });
  const where = new Locator(doc, lines);
  if (data === null || data === undefined) throw new WorkflowFileError(file, [{ line: 1, col: 1, message: 'the file is empty: a workflow needs name and stages' }]);
  const problems = schemaProblems(data).map((p) => ({ ...where.at(p.path, p.atKey), message: p.message }));
  if (problems.length) throw new WorkflowFileError(file, sortProblems(problems));
  const builder = new ModelBuilder(data as RawWorkflow, where);
  const workflow = builder.build(file === '<workflow>' ? undefined : file);
  if (builder.problems.length) throw new WorkflowFileError(file, sortProblems(builder.problems));
  return workflow;
}

/** The first YAML error of each line (one typo makes many), with a hint where `{{ }}` is the cause. */
function yamlProblems(doc: Document, text: string): Problem[] {
  const lines = text.split('\n');
  const byLine = new Map<number, Problem>();
  for (const e of doc.errors) {
    const { line, col } = e.linePos?.[0] ?? { line: 1, col: 1 };
    if (byLine.has(line)) continue;
    const hint = /\{\{/.test(lines[line - 1] ?? '')
      ? ' (a value with {{ }} must be quoted when it starts with {{ or stands inside { }: "{{ name }}/x")'
      : '';
    byLine.set(line, { line, col, message: `YAML: ${e.message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '')}${hint}` });
  }
  return sortProblems([...byLine.values()]);
}

function sortProblems(ps: Problem[]): Problem[] {
  return [...ps].sort((a, b) => a.line - b.line || a.col - b.col);
}

export async function readWorkflow(path: string): Promise<Workflow> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new WorkflowFileError(path, [{ line: 1, col: 1, message: code === 'ENOENT' ? 'no such file' : (err as Error).message }]);
  }
  return parseWorkflow(text, path);
}
