// activate() shows a status-bar item and then logs its entry time, in the same words Flotilla logs it.
const vscode = require('vscode');

exports.activate = (context) => {
  const enteredAt = Date.now();
  const item = vscode.window.createStatusBarItem('floor.item', vscode.StatusBarAlignment.Left, 50);
  item.text = 'floor';
  item.show();
  context.subscriptions.push(item);
  setTimeout(() => {
    const log = vscode.window.createOutputChannel('Activation floor', { log: true });
    log.info(`activate() entered at ${enteredAt} (epoch ms)`);
    context.subscriptions.push(log);
  }, 0);
};
exports.deactivate = () => {};
