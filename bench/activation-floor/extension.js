// activate() shows a status-bar item and logs what Flotilla's activate() logs about it (src/extension/main.ts,
// startup.ts), measured the same way: when the extension host sent the item, when the workbench had handled it.
const vscode = require('vscode');

exports.activate = async (context) => {
  const enteredAt = Date.now();
  const item = vscode.window.createStatusBarItem('floor.item', vscode.StatusBarAlignment.Left, 50);
  item.text = 'floor';
  item.show();
  context.subscriptions.push(item);
  await new Promise((resolve) => setTimeout(resolve, 0));
  const sentAt = Date.now();
  await Promise.resolve(vscode.commands.executeCommand('setContext', 'floor.shown', true)).catch(() => undefined);
  const handledAt = Date.now();
  const log = vscode.window.createOutputChannel('Activation floor', { log: true });
  context.subscriptions.push(log);
  log.info(`activate() entered at ${enteredAt} (epoch ms)`);
  log.info(`activate() returned after ${Date.now() - enteredAt} ms (${handledAt - enteredAt} ms of it until the workbench had the status-bar item, sent at ${sentAt - enteredAt} ms)`);
};
exports.deactivate = () => {};
