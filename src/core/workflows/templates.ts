// The built-in workflows (sshsync's deploy, rolling restart, backup, sync and health check) as ordinary
// workflow files with params: "New Workflow…" writes one into the workspace to edit, and the CLI runs
// one directly with `flotilla workflow run builtin:NAME --var k=v`.
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Workflow } from './model';
import { parseWorkflow, readWorkflow } from './parse';

export const TEMPLATES: Readonly<Record<string, string>> = {
  deploy: `# Deploy: test on staging first; then production one host at a time, each checked before the next.
name: deploy
description: Push to staging and test there; then production one host at a time, each health-checked before the next; a host that fails is rolled back.
params:
  staging: { description: host or group tested first, default: staging }
  production: { description: host or group deployed one host at a time, default: production }
  from: { description: local folder to deploy, default: ./dist }
  app: { description: remote folder, default: ~/app }
  health: { description: URL each production host must answer, default: "http://localhost:8080/health" }
stages:
  - name: staging
    hosts: "{{ staging }}"
    steps:
      - push: { from: "{{ from }}", to: "{{ app }}" }
      - run: make test
        cwd: "{{ app }}"
  - name: production
    hosts: "{{ production }}"
    serial: 1
    max_fail: 0
    confirm: true
    steps:
      - name: keep the previous version
        run: if [ -d {{ app }} ]; then rm -rf {{ app }}.previous && cp -a {{ app }} {{ app }}.previous; fi
      - push: { from: "{{ from }}", to: "{{ app }}" }
      - run: ./restart.sh
        cwd: "{{ app }}"
      - gate: { http: "{{ health }}", retries: 10, interval: 2s, timeout: 60s }
    on_failure:
      - name: restore the previous version
        run: if [ -d {{ app }}.previous ]; then rm -rf {{ app }} && mv {{ app }}.previous {{ app }} && cd {{ app }} && ./restart.sh; fi
`,
  'rolling-restart': `# Rolling restart: one host at a time; the next starts only once the service is active again.
name: rolling-restart
description: Restart a systemd service one host at a time, waiting until it is active again before the next host (edit for systemctl --user or sudo).
params:
  hosts: { description: host or group whose service is restarted }
  service: { description: systemd unit name }
stages:
  - name: restart
    hosts: "{{ hosts }}"
    serial: 1
    max_fail: 0
    steps:
      - run: systemctl restart {{ service }}
      - gate: { run: "systemctl is-active --quiet {{ service }}", retries: 10, interval: 2s, timeout: 60s }
`,
  backup: `# Backup: copy a path from many hosts into dated per-host folders.
name: backup
description: Copy a remote path from every host into TO/DATE/HOST (an existing copy is never overwritten).
params:
  hosts: { description: host or group to back up }
  path: { description: remote file or folder to copy }
  to: { description: local folder of the backups, default: ./backups }
stages:
  - name: backup
    hosts: "{{ hosts }}"
    max_fail: 100%
    steps:
      - pull: { from: "{{ path }}", to: "{{ to }}/{{ date }}/{{ host }}" }
`,
  sync: `# Sync: copy a folder from one host to a group (through a local copy kept in .flotilla/sync/RUN).
name: sync
description: Copy a remote folder from one host to every host of a group, through a local copy kept in .flotilla/sync/RUN-ID.
params:
  source: { description: the host to copy from }
  targets: { description: host or group to copy to }
  path: { description: remote folder (the same path on every host) }
stages:
  - name: fetch
    hosts: "{{ source }}"
    steps:
      - pull: { from: "{{ path }}", to: ".flotilla/sync/{{ run }}" }
  - name: distribute
    hosts: "{{ targets }}"
    max_fail: 100%
    steps:
      - push: { from: ".flotilla/sync/{{ run }}", to: "{{ path }}" }
`,
  'health-check': `# Health check: an endpoint fetched from each host of a group.
name: health-check
description: Fetch a URL from every host of a group (curl or wget on the host), retried; lists the hosts that do not answer.
params:
  hosts: { description: host or group to check }
  url: { description: "URL fetched from each host, e.g. http://localhost:8080/health" }
stages:
  - name: check
    hosts: "{{ hosts }}"
    max_fail: 100%
    steps:
      - gate: { http: "{{ url }}", retries: 2, interval: 2s, timeout: 30s }
`,
};

export const BUILTIN_PREFIX = 'builtin:';

export function templateWorkflow(name: string): Workflow {
  const text = TEMPLATES[name];
  if (text === undefined) throw new Error(`no built-in workflow ${JSON.stringify(name)}; there are: ${Object.keys(TEMPLATES).join(', ')}`);
  return parseWorkflow(text, `${BUILTIN_PREFIX}${name}`);
}

/** Where a workspace keeps its workflows. */
export const WORKFLOWS_DIR = join('.flotilla', 'workflows');

/** `.flotilla/workflows/*.yaml|yml` under `root`, sorted; none when the folder does not exist. */
export async function findWorkflowFiles(root: string): Promise<string[]> {
  const dir = join(root, WORKFLOWS_DIR);
  const names = await readdir(dir).catch(() => [] as string[]);
  return names.filter((n) => /\.ya?ml$/i.test(n)).sort().map((n) => join(dir, n));
}

/** A workflow file, or `builtin:NAME`. */
export function loadWorkflow(spec: string): Promise<Workflow> {
  if (spec.startsWith(BUILTIN_PREFIX)) return Promise.resolve(templateWorkflow(spec.slice(BUILTIN_PREFIX.length)));
  return readWorkflow(spec);
}
