// Activation wires adapters to the core; nothing else happens here.
import * as vscode from 'vscode';
import { registerAgents } from './agents/agentCommands';
import { registerAgentTools } from './agentTools';
import { registerBalance } from './balance';
import { createFleet, type Fleet } from './fleet';
import { registerHosts } from './hosts';
import { vscodePrompter } from './prompts';
import { registerPush } from './push';
import { registerReport } from './report';
import { registerRuns, runStoreRoot } from './runs';
import { showStatusFirst } from './startup';
import { registerWorkflows } from './workflows';

export interface ExtensionApi {
  fleet: Fleet;
  /** How long activate() took (it runs at every startup), the wait for the workbench to take the status-bar item included. */
  activationMs: number;
}

export async function activate(context: vscode.ExtensionContext): Promise<ExtensionApi> {
  // Activation runs at startup (onStartupFinished) so the status bar and host-key notice appear in any
  // window: it must stay cheap. Everything slow (reading the config, probing) happens after it returns.
  const t0 = performance.now();
  const enteredAt = Date.now();
  // The item goes first and alone (startup.ts): even the output channel's messages would be handled before it.
  const { item: statusItem, sentAt } = await showStatusFirst(context.subscriptions);
  const statusTakenAt = Date.now();
  const log = vscode.window.createOutputChannel('Flotilla', { log: true });
  // The `activation` benchmark reads this line (and the workbench's DOM for the status-bar item).
  log.info(`activate() entered at ${enteredAt} (epoch ms)`);
  context.subscriptions.push(log);
  // The run store's root (the CLI's too), so the health history is one for both.
  const { fleet, pool } = createFleet(vscodePrompter, log, runStoreRoot());
  context.subscriptions.push(fleet);
  const hostsView = registerHosts(context, fleet, statusItem);
  const runStore = registerRuns(context, fleet, pool, hostsView, log);
  registerAgents(context, fleet, pool);
  registerBalance(context, fleet, pool, runStore, log);
  registerPush(context, fleet, pool);
  registerReport(context, fleet, pool);
  registerWorkflows(context, fleet, pool, runStore, log);
  registerAgentTools(context, fleet, pool, runStore);
  // Reading and resolving the ssh config starts after activate() returns, so the views reach the workbench first.
  setImmediate(() => void fleet.reload());
  log.info(`activate() returned after ${Date.now() - enteredAt} ms (${statusTakenAt - enteredAt} ms of it until the workbench had the status-bar item, sent at ${sentAt - enteredAt} ms)`);
  const activationMs = performance.now() - t0;
  log.info(`activated in ${activationMs.toFixed(1)} ms`);
  return { fleet, activationMs };
}

export function deactivate(): void {}
