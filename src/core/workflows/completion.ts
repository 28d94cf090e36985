// Completion and hover in workflow files from the shipped JSON Schema, through Red Hat's YAML language
// service (the engine of the YAML extension) run in-process: editors without that extension still
// complete keys and values, with the schema's descriptions.
import { getLanguageService, type CompletionItem, type LanguageService } from 'yaml-language-server';
import { TextDocument } from 'vscode-languageserver-textdocument';
import WORKFLOW_SCHEMA from '../../../schemas/workflow.schema.json';

const SCHEMA_URI = 'flotilla:/schemas/workflow.schema.json';
let service: LanguageService | undefined;

function languageService(): LanguageService {
  if (service) return service;
  service = getLanguageService({
    schemaRequestService: async (uri) => {
      if (uri === SCHEMA_URI) return JSON.stringify(WORKFLOW_SCHEMA);
      throw new Error(`no schema ${uri}: workflow files use only their own`);
    },
    workspaceContext: { resolveRelativePath: (relative, resource) => new URL(relative, resource).toString() },
  });
  service.configure({ validate: false, completion: true, hover: true, format: false, isKubernetes: false, schemas: [{ uri: SCHEMA_URI, fileMatch: ['*'], schema: WORKFLOW_SCHEMA }] });
  return service;
}

// The service caches parsed documents by URI and version: every call is a new version.
let version = 0;
const doc = (text: string) => TextDocument.create('file:///workflow.yaml', 'yaml', ++version, text);

/** Completion items at a 0-based line and character. */
export async function completeWorkflow(text: string, line: number, character: number): Promise<CompletionItem[]> {
  return (await languageService().doComplete(doc(text), { line, character }, false)).items;
}

/** The schema's description of what is under the position, as markdown (undefined: nothing known there). */
export async function hoverWorkflow(text: string, line: number, character: number): Promise<string | undefined> {
  const hover = await languageService().doHover(doc(text), { line, character });
  const c = hover?.contents;
  if (!c) return undefined;
  if (typeof c === 'string') return c;
  if (Array.isArray(c)) return c.map((x) => (typeof x === 'string' ? x : x.value)).join('\n\n');
  return c.value;
}
