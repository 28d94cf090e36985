// A workflow as plain typed data: what a workflow file says, after validation, with `{{ }}` still in the
// strings. Parsing makes it, planning renders it per host, and exporters (e.g. to an Ansible playbook)
// read it; nothing here knows about YAML, SSH or the editor.

/** Where something was written: 1-based line and column in the workflow file. */
export interface SourcePos {
  line: number;
  col: number;
}

export interface Param {
  description?: string;
  /** Absent: the person running the workflow must give it. */
  default?: string;
}

export interface Workflow {
  name: string;
  description?: string;
  /** The file it was read from (absent for text parsed from memory). */
  file?: string;
  vars: Record<string, string>;
  params: Record<string, Param>;
  stages: Stage[];
}

/** Hosts at a time. */
export type Serial = { count: number } | { percent: number };

export interface Stage {
  name: string;
  /** Targets as written: host aliases, groups, `all`, comma lists. */
  hosts: string[];
  serial?: Serial;
  /** Failed hosts tolerated before the stage stops: a count, or a percentage of the stage's hosts. */
  maxFail: { count: number } | { percent: number };
  confirm: boolean;
  steps: Step[];
  /** Run on the hosts of the batch that made the stage stop. */
  onFailure: Step[];
  pos?: SourcePos;
}

interface StepBase {
  /** A label given in the file. */
  name?: string;
  pos?: SourcePos;
}

export interface RunStep extends StepBase {
  kind: 'run';
  command: string;
  cwd?: string;
  timeoutMs?: number;
  files?: string[];
}

export interface PushStep extends StepBase {
  kind: 'push';
  /** Local folder. */
  from: string;
  /** Remote folder. */
  to: string;
  delete?: boolean;
  exclude?: string[];
}

export interface PullStep extends StepBase {
  kind: 'pull';
  /** Remote file or folder. */
  from: string;
  /** Local path that becomes the copy. */
  to: string;
}

export type GateCheck = { run: string } | { http: string };

export interface GateStep extends StepBase {
  kind: 'gate';
  check: GateCheck;
  /** Attempts after the first. */
  retries: number;
  intervalMs: number;
  /** For the whole gate on one host. */
  timeoutMs: number;
}

export interface PlaceStep extends StepBase {
  kind: 'place';
  strategy: 'least-loaded';
}

export type Step = RunStep | PushStep | PullStep | GateStep | PlaceStep;
export type StepKind = Step['kind'];

export const GATE_DEFAULTS = { retries: 0, intervalMs: 2000, timeoutMs: 60_000 } as const;

/** Names every workflow can use without declaring them. */
export const BUILTIN_VARS = {
  host: 'the host the step runs on',
  date: 'the workflow run\'s start date, YYYY-MM-DD (UTC)',
  time: 'its start time, HHMMSS (UTC)',
  run: 'the workflow run id',
  workflow: 'the workflow\'s name',
  stage: 'the stage\'s name',
} as const;
export type BuiltinVar = keyof typeof BUILTIN_VARS;
