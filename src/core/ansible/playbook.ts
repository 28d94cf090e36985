// A workflow as an Ansible playbook that does what Flotilla's runner does (runner.ts), on the hosts the
// workflow names now. Pure: the workflow model in, YAML text out.
//
// The failure policy is Flotilla's, not Ansible's max_fail_percentage (which Ansible checks after every
// task against the batch size): a host that fails a step does no further steps (block/rescue) and is put
// in the group `flotilla_failed`, which every later stage leaves out; after the batch, when more hosts of
// the stage have failed than max_fail allows, on_failure runs on the whole batch and a task with
// any_errors_fatal ends the playbook, as the runner stops the workflow. Failures a stage let through fail
// their hosts in a last play, so ansible-playbook exits 2 as `flotilla workflow run` does.
//
// Values are Flotilla's: declared vars and params are rendered here, as the runner renders them (a value is
// one shell word in a command), and the text is kept from Ansible's own templating; {{ host }} becomes
// inventory_hostname, {{ date }}/{{ time }}/{{ run }} the playbook's start. What has no equivalent (place,
// files of a run step) is an error naming the step, never left out.
import { dirname, isAbsolute, resolve } from 'node:path';
import { stringify } from 'yaml';
import { strictTargets, type Inventory } from '../config/inventory';
import { DEFAULT_TIMEOUT_MS } from '../exec/run';
import { shQuote } from '../ssh/quote';
import type { SourcePos, Stage, Step, Workflow } from '../workflows/model';
import { WorkflowFileError, type Problem } from '../workflows/parse';
import { batchesOf, httpCheck, settleVars, stepLabel } from '../workflows/plan';
import { render, type RenderMode } from '../workflows/vars';
import { formatAnsibleExport, planAnsibleExport, type AnsibleExport } from './export';

/** Something of the workflow Ansible cannot do as Flotilla does; the problems name file:line:col. */
export class PlaybookExportError extends WorkflowFileError {
  override name = 'PlaybookExportError';
}

export interface PlaybookInput {
  workflow: Workflow;
  /** `--var name=value`, as for a run. */
  overrides?: Readonly<Record<string, string>>;
  /** A stage's target → host aliases (the same resolution a run uses). */
  resolveHosts: (target: string) => string[];
  /** Local relative paths (push from, pull to) are taken from here, as a run from here would. */
  baseDir: string;
}

export interface Playbook {
  /** The playbook's YAML. */
  text: string;
  /** Every host a stage names, in order: the inventory that goes with the playbook needs these. */
  hosts: string[];
}

/** The group of the hosts that failed a stage (left out of the later ones). */
export const FAILED_GROUP = 'flotilla_failed';

// Runtime values, put in as tokens that no rendering changes and then replaced by Ansible expressions.
const RUNTIME: Record<'host' | 'date' | 'time' | 'run', string> = {
  host: 'inventory_hostname',
  date: `hostvars['localhost'].flotilla_start[:10]`,
  time: `hostvars['localhost'].flotilla_start[11:]`,
  run: `'ansible-' ~ hostvars['localhost'].flotilla_start | replace('-', '')`,
};
type Runtime = keyof typeof RUNTIME;
const token = (name: Runtime, mode: RenderMode) => `FLOTILLA${mode.toUpperCase()}${name.toUpperCase()}0X`;
const TOKENS = new RegExp(`FLOTILLA(SHELL|PLAIN)(${Object.keys(RUNTIME).join('|').toUpperCase()})0X`, 'g');
const JINJA = /\{\{|\{%|\{#/;

/** Text for Ansible: literal parts kept from templating, runtime tokens turned into expressions. */
function forAnsible(text: string): string {
  let out = '';
  let last = 0;
  const literal = (s: string) => {
    if (!JINJA.test(s)) return s;
    if (s.includes('{% endraw %}')) throw new Error('the text contains "{% endraw %}", which cannot be kept from Ansible\'s templating');
    return `{% raw %}${s}{% endraw %}`;
  };
  for (const m of text.matchAll(TOKENS)) {
    out += literal(text.slice(last, m.index));
    const expr = RUNTIME[m[2]!.toLowerCase() as Runtime];
    out += m[1] === 'SHELL' ? `{{ (${expr}) | quote }}` : `{{ ${expr} }}`;
    last = m.index! + m[0].length;
  }
  return out + literal(text.slice(last));
}

type Task = Record<string, unknown>;

/** rsync's ssh goes through the inventory's ssh arguments (-F) and checks host keys, as Flotilla does. */
const SYNC_SSH = { use_ssh_args: true, verify_host: true } as const;
type Play = Record<string, unknown>;

class Translator {
  readonly problems: Problem[] = [];
  readonly allHosts: string[] = [];
  usesStart = false;
  /** Some stage lets failures through: they still fail the playbook at its end, as they fail the run. */
  tolerates = false;
  private readonly vars: Record<string, string>;

  constructor(private readonly input: PlaybookInput) {
    this.vars = settleVars(input.workflow, input.overrides);
  }

  private problem(pos: SourcePos | undefined, message: string): void {
    this.problems.push({ ...(pos ?? { line: 1, col: 1 }), message });
  }

  /** `text` rendered as the runner renders it, for Ansible. */
  private text(text: string, mode: RenderMode, stage: Stage): string {
    const runtime = Object.fromEntries((Object.keys(RUNTIME) as Runtime[]).map((k) => [k, token(k, mode)]));
    const rendered = render(text, { ...this.vars, workflow: this.input.workflow.name, stage: stage.name, ...runtime }, mode);
    if (/FLOTILLA(SHELL|PLAIN)(DATE|TIME|RUN)0X/.test(rendered)) this.usesStart = true;
    return rendered;
  }

  private local(path: string): string {
    return isAbsolute(path) ? path : resolve(this.input.baseDir, path);
  }

  private where(stage: Stage, step: Step, phase: 'steps' | 'on_failure', index: number): string {
    return `stage ${JSON.stringify(stage.name)} ${phase === 'on_failure' ? 'on_failure' : 'step'} ${index + 1} (${step.kind}: ${stepLabel(step).split('\n')[0]})`;
  }

  private tasks(stage: Stage, step: Step, phase: 'steps' | 'on_failure', index: number): Task[] {
    const name = forAnsible(`${step.kind}: ${this.text(stepLabel(step), 'plain', stage)}`.split('\n')[0]!);
    const where = this.where(stage, step, phase, index);
    switch (step.kind) {
      case 'run': {
        if (step.files?.length) {
          this.problem(step.pos, `${where}: files (copied into a private directory the command runs in) has no Ansible equivalent here; copy them with a push step first`);
          return [];
        }
        const args: Record<string, string> = { cmd: forAnsible(this.text(step.command, 'shell', stage)) };
        if (step.cwd !== undefined) {
          const cwd = this.text(step.cwd, 'plain', stage);
          // Flotilla takes a relative cwd from the home directory.
          args.chdir = forAnsible(cwd === '~' || cwd.startsWith('~/') || cwd.startsWith('/') ? cwd : `~/${cwd}`);
        }
        return [{ name, 'ansible.builtin.shell': args, timeout: Math.ceil((step.timeoutMs ?? DEFAULT_TIMEOUT_MS) / 1000) }];
      }
      case 'gate': {
        const check = 'run' in step.check
          ? this.text(step.check.run, 'shell', stage)
          : httpCheck(this.text(step.check.http, 'plain', stage), step.timeoutMs);
        if ('http' in step.check && !/^https?:\/\/\S+$/.test(this.text(step.check.http, 'plain', stage))) {
          this.problem(step.pos, `${where}: ${JSON.stringify(step.check.http)} is not an http:// or https:// URL`);
        }
        return [{
          name,
          'ansible.builtin.shell': { cmd: forAnsible(check) },
          register: 'flotilla_gate',
          until: 'flotilla_gate.rc == 0',
          retries: step.retries,
          // Ansible waits whole seconds between attempts.
          delay: Math.ceil(step.intervalMs / 1000),
          // Per attempt in Ansible; Flotilla's bound is for the whole gate.
          timeout: Math.ceil(step.timeoutMs / 1000),
        }];
      }
      case 'push': {
        const negated = (step.exclude ?? []).filter((p) => p.startsWith('!'));
        if (negated.length) this.problem(step.pos, `${where}: exclude ${negated.map((p) => JSON.stringify(p)).join(', ')} re-includes files, which rsync's --exclude cannot express`);
        const to = forAnsible(this.text(step.to, 'plain', stage));
        const from = forAnsible(this.local(this.text(step.from, 'plain', stage)));
        return [
          { name: `${name} (the folder)`, 'ansible.builtin.file': { path: to, state: 'directory' } },
          {
            name,
            'ansible.posix.synchronize': {
              src: `${from.replace(/\/+$/, '')}/`,
              dest: `${to.replace(/\/+$/, '')}/`,
              ...SYNC_SSH,
              ...(step.delete ? { delete: true } : {}),
              // As Flotilla's push: .gitignore and .flotillaignore of every folder, then the step's excludes
              // (the module splits its command line as a shell would).
              rsync_opts: ['--filter=:- .gitignore', '--filter=:- .flotillaignore', ...(step.exclude ?? []).map((p) => `--exclude=${p}`)].map((o) => forAnsible(shQuote(o))),
            },
          },
        ];
      }
      case 'pull': {
        const from = forAnsible(this.text(step.from, 'plain', stage));
        const toPath = this.local(this.text(step.to, 'plain', stage));
        const to = forAnsible(toPath);
        return [
          { name: `${name} (is the remote path a folder)`, 'ansible.builtin.stat': { path: from, get_checksum: false }, register: 'flotilla_pull_from', failed_when: 'not flotilla_pull_from.stat.exists' },
          { name: `${name} (the local copy must not exist)`, 'ansible.builtin.stat': { path: to }, delegate_to: 'localhost', register: 'flotilla_pull_to' },
          {
            name: `${name} (nothing is overwritten)`,
            'ansible.builtin.fail': { msg: `${to} ${forAnsible('already exists; nothing was overwritten (put {{ date }}, {{ time }} or {{ run }} in "to")')}` },
            when: 'flotilla_pull_to.stat.exists',
          },
          { name: `${name} (its folder)`, 'ansible.builtin.file': { path: forAnsible(dirname(toPath)), state: 'directory' }, delegate_to: 'localhost' },
          {
            name,
            'ansible.posix.synchronize': {
              mode: 'pull',
              src: `${from.replace(/\/+$/, '')}{{ '/' if flotilla_pull_from.stat.isdir else '' }}`,
              dest: to,
              ...SYNC_SSH,
            },
          },
        ];
      }
      case 'place':
        this.problem(step.pos, `${where}: place picks the least-loaded host when the stage starts, which Ansible cannot do; name the host in the stage's hosts instead`);
        return [];
    }
  }

  private hostsOf(stage: Stage): string[] {
    const hosts: string[] = [];
    for (const target of stage.hosts) {
      const rendered = this.text(target, 'plain', stage);
      if (TOKENS.test(rendered)) {
        TOKENS.lastIndex = 0;
        this.problem(stage.pos, `stage ${JSON.stringify(stage.name)}: its hosts (${target}) depend on the run's date, time or id; name them without`);
        continue;
      }
      for (const h of this.input.resolveHosts(rendered)) if (!hosts.includes(h)) hosts.push(h);
    }
    for (const h of hosts) {
      if (/[,:!&*?[\]~@\s]/.test(h) || h === FAILED_GROUP) this.problem(stage.pos, `stage ${JSON.stringify(stage.name)}: host ${JSON.stringify(h)} cannot be named in an Ansible host pattern`);
      if (!this.allHosts.includes(h)) this.allHosts.push(h);
    }
    if (!hosts.length) this.problem(stage.pos, `stage ${JSON.stringify(stage.name)}: its hosts (${stage.hosts.join(', ')}) are no host at all`);
    return hosts;
  }

  plays(stage: Stage, index: number, total: number): Play[] {
    const hosts = this.hostsOf(stage);
    const steps = stage.steps.flatMap((s, i) => this.tasks(stage, s, 'steps', i));
    const onFailure = stage.onFailure.flatMap((s, i) => this.tasks(stage, s, 'on_failure', i));
    const maxFail = 'count' in stage.maxFail ? stage.maxFail.count : Math.floor((hosts.length * stage.maxFail.percent) / 100);
    const title = forAnsible(`stage ${index + 1}/${total} ${stage.name}`);
    // The stage's hosts that failed so far: rescued from a step, or unreachable (out of ansible_play_hosts).
    const failed = `groups['${FAILED_GROUP}'] | default([]) | intersect(ansible_play_hosts_all) | union(ansible_play_hosts_all | difference(ansible_play_hosts))`;
    const stops = `(${failed} | length) > ${maxFail}`;
    const batch = batchesOf(hosts, stage.serial)[0]?.length ?? 0;
    if (maxFail > 0) this.tolerates = true;
    const plays: Play[] = [];
    if (stage.confirm) {
      plays.push({
        name: `${title}: confirm`,
        hosts: 'localhost',
        gather_facts: false,
        tasks: [
          {
            name: 'ask',
            'ansible.builtin.pause': { prompt: forAnsible(`Start stage ${stage.name} on ${hosts.length} host(s) (${hosts.join(', ')})? [y/N]`) },
            register: 'flotilla_confirm',
          },
          {
            name: 'not confirmed: the workflow stops',
            'ansible.builtin.fail': { msg: forAnsible(`stage ${stage.name} was not confirmed`) },
            when: `not (flotilla_confirm.user_input | default('') | trim | lower in ['y', 'yes'])`,
          },
        ],
      });
    }
    plays.push({
      name: title,
      hosts: [...hosts, `!${FAILED_GROUP}`].join(','),
      gather_facts: false,
      ...(stage.serial && batch < hosts.length ? { serial: batch } : {}),
      tasks: [
        {
          name: 'steps',
          block: steps,
          rescue: [
            { name: 'a host that fails a step does no further steps, here or in a later stage', 'ansible.builtin.group_by': { key: FAILED_GROUP } },
            { name: 'the stage it failed', 'ansible.builtin.set_fact': { flotilla_failed_stage: forAnsible(stage.name) } },
          ],
        },
        ...(onFailure.length ? [{ name: `on_failure: more than ${maxFail} host(s) of the stage failed`, when: stops, block: onFailure }] : []),
        {
          name: `stop: more than ${maxFail} host(s) of the stage failed (max_fail ${maxFail})`,
          'ansible.builtin.fail': { msg: forAnsible(`stage ${stage.name}: `) + `{{ ${failed} | join(', ') }} failed (max_fail ${maxFail}); the workflow stops` },
          when: stops,
          any_errors_fatal: true,
        },
      ],
    });
    return plays;
  }
}

const HEADER = (w: Workflow, vars: Record<string, string>) => [
  `Written by flotilla workflow export --ansible from ${w.file ?? `workflow ${w.name}`}: the workflow ${w.name} as a playbook.`,
  'Run it with the inventory exported beside it: ansible-playbook -i INVENTORY PLAYBOOK',
  'A host that fails a step does no further steps and sits out later stages; when more hosts of a stage',
  'fail than its max_fail allows, on_failure runs on that batch and the playbook stops, as Flotilla does.',
  ...(Object.keys(vars).length ? ['Values:', ...Object.entries(vars).map(([k, v]) => `  ${k} = ${JSON.stringify(v)}`)] : []),
].map((l) => `# ${l}`).join('\n');

/** The playbook of a workflow; throws PlaybookExportError naming every step that has no Ansible equivalent. */
export function workflowPlaybook(input: PlaybookInput): Playbook {
  const { workflow } = input;
  const t = new Translator(input);
  const plays = workflow.stages.flatMap((s, i) => t.plays(s, i, workflow.stages.length));
  if (t.problems.length) throw new PlaybookExportError(workflow.file ?? `workflow ${workflow.name}`, t.problems);
  if (t.usesStart) {
    plays.unshift({
      name: forAnsible('the run\'s start, for {{ date }}, {{ time }} and {{ run }}'),
      hosts: 'localhost',
      gather_facts: false,
      tasks: [{ 'ansible.builtin.set_fact': { flotilla_start: "{{ now(utc=true, fmt='%Y-%m-%dT%H%M%S') }}" } }],
    });
  }
  if (t.tolerates) {
    plays.push({
      name: 'the hosts that failed a stage that let failures through',
      hosts: FAILED_GROUP,
      gather_facts: false,
      tasks: [{ name: 'failed', 'ansible.builtin.fail': { msg: 'failed in stage {{ flotilla_failed_stage }}' } }],
    });
  }
  // Ansible reads YAML 1.1: strings such as "yes" or "0755" must be quoted for it.
  const body = stringify(plays, { version: '1.1', lineWidth: 0 });
  return { text: `${HEADER(workflow, settleVars(workflow, input.overrides))}\n${body}`, hosts: t.allHosts };
}

export interface WorkflowAnsibleExport {
  playbook: Playbook;
  /** A YAML inventory of the playbook's hosts that lets Ansible connect as Flotilla does (export.ts). */
  inventory: string;
  leftOut: AnsibleExport['leftOut'];
}

/** The playbook and the inventory that goes with it. */
export function exportWorkflowToAnsible(input: Omit<PlaybookInput, 'resolveHosts'> & { inventory: Inventory; resolveHosts?: PlaybookInput['resolveHosts'] }): WorkflowAnsibleExport {
  const playbook = workflowPlaybook({ ...input, resolveHosts: input.resolveHosts ?? ((t) => strictTargets(t, input.inventory)) });
  const plan = planAnsibleExport(input.inventory, playbook.hosts.join(','));
  // Declared, empty, so that the plays' `!flotilla_failed` matches a group before any host has failed.
  plan.groups.set(FAILED_GROUP, []);
  return { playbook, inventory: formatAnsibleExport(plan, 'ansible-yaml'), leftOut: plan.leftOut };
}

/** Where the inventory goes beside a playbook: deploy.yml → deploy.inventory.yml. */
export function inventoryBeside(playbookPath: string): string {
  return `${playbookPath.replace(/\.ya?ml$/i, '')}.inventory.yml`;
}
