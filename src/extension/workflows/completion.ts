// Completion and hover from the workflow schema in `.flotilla/workflows/*.yaml`, when the YAML extension
// (which reads the yamlValidation contribution itself) is not installed: the same language service, here.
import * as vscode from 'vscode';

// The language service is large (it formats with prettier): loaded on the first completion, not at activation.
const service = () => import('../../core/workflows/completion');
const YAML_EXTENSION = 'redhat.vscode-yaml';
const SELECTOR: vscode.DocumentSelector = [
  { language: 'yaml', pattern: '**/.flotilla/workflows/*.{yaml,yml}' },
  { language: 'yaml', pattern: '**/*.flotilla-workflow.yaml' },
];
const SNIPPET = 2;
const MARKDOWN = 'markdown';

type Doc = string | { kind: string; value: string } | undefined;
const docs = (d: Doc) => (d === undefined ? undefined : typeof d === 'string' ? d : d.kind === MARKDOWN ? new vscode.MarkdownString(d.value) : d.value);

export function registerWorkflowCompletion(log: vscode.LogOutputChannel): vscode.Disposable {
  if (vscode.extensions.getExtension(YAML_EXTENSION)) return new vscode.Disposable(() => {});
  return vscode.Disposable.from(
    vscode.languages.registerCompletionItemProvider(SELECTOR, {
      async provideCompletionItems(document, position) {
        const items = await (await service()).completeWorkflow(document.getText(), position.line, position.character).catch((err: unknown) => {
          log.warn(`workflow completion failed: ${String(err)}`);
          return [];
        });
        return items.map((i) => {
          const item = new vscode.CompletionItem(i.label, i.kind ? i.kind - 1 : undefined);
          const text = i.textEdit && 'newText' in i.textEdit ? i.textEdit.newText : i.insertText ?? i.label;
          item.insertText = i.insertTextFormat === SNIPPET ? new vscode.SnippetString(text) : text;
          if (i.textEdit && 'range' in i.textEdit) {
            const r = i.textEdit.range;
            item.range = new vscode.Range(r.start.line, r.start.character, r.end.line, r.end.character);
          }
          item.detail = i.detail;
          item.documentation = docs(i.documentation as Doc);
          item.sortText = i.sortText;
          item.filterText = i.filterText;
          return item;
        });
      },
    }, ' ', ':'),
    vscode.languages.registerHoverProvider(SELECTOR, {
      async provideHover(document, position) {
        const md = await (await service()).hoverWorkflow(document.getText(), position.line, position.character);
        return md ? new vscode.Hover(new vscode.MarkdownString(md)) : undefined;
      },
    }),
  );
}
