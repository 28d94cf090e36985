// The workflow file's JSON Schema (the same file the extension registers for YAML completion), checked by
// the validator ajv generates from it (validateWorkflow.js), and its errors turned into one message per
// problem, located by JSON pointer.
import type { ErrorObject } from 'ajv';
import validateWorkflow from './validateWorkflow';

export interface SchemaProblem {
  /** Path of the value at fault ([] = the document); for an unknown key, the key's own path. */
  path: (string | number)[];
  /** The problem is the key at `path`, not its value. */
  atKey?: boolean;
  message: string;
}

const STEP_ACTIONS = ['run', 'push', 'pull', 'gate', 'place'] as const;

function pathOf(pointer: string): (string | number)[] {
  if (!pointer) return [];
  return pointer.slice(1).split('/').map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~')).map((s) => (/^\d+$/.test(s) ? Number(s) : s));
}

/** `stages[1].steps[0].gate`: how the place reads in a message. */
export function pathText(path: readonly (string | number)[]): string {
  return path.map((p, i) => (typeof p === 'number' ? `[${p}]` : `${i ? '.' : ''}${p}`)).join('') || 'the document';
}

function closest(word: string, candidates: readonly string[]): string | undefined {
  const distance = (a: string, b: string) => {
    const d = Array.from({ length: b.length + 1 }, (_, i) => i);
    for (let i = 1; i <= a.length; i++) {
      let prev = d[0]!;
      d[0] = i;
      for (let j = 1; j <= b.length; j++) {
        const next = Math.min(d[j]! + 1, d[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
        prev = d[j]!;
        d[j] = next;
      }
    }
    return d[b.length]!;
  };
  const best = candidates.map((c) => ({ c, d: distance(word.toLowerCase(), c) })).sort((x, y) => x.d - y.d)[0];
  return best && best.d <= Math.max(1, Math.floor(word.length / 3)) ? best.c : undefined;
}

function describe(e: ErrorObject, data: unknown): SchemaProblem {
  const path = pathOf(e.instancePath);
  const where = pathText(path);
  const parent = e.parentSchema as { description?: string; properties?: Record<string, unknown> } | undefined;
  switch (e.keyword) {
    case 'additionalProperties': {
      const key = (e.params as { additionalProperty: string }).additionalProperty;
      const allowed = Object.keys(parent?.properties ?? {});
      const guess = closest(key, allowed);
      return {
        path: [...path, key],
        atKey: true,
        message: `unknown key ${JSON.stringify(key)} in ${where}${guess ? ` (did you mean ${JSON.stringify(guess)}?)` : ''}; allowed: ${allowed.join(', ')}`,
      };
    }
    case 'required':
      return { path, message: `${where} needs ${JSON.stringify((e.params as { missingProperty: string }).missingProperty)}` };
    case 'dependencies': {
      const p = e.params as { property: string; missingProperty: string };
      return { path: [...path, p.property], atKey: true, message: `${JSON.stringify(p.property)} belongs to a ${p.missingProperty} step; this step has no ${p.missingProperty}` };
    }
    case 'oneOf': {
      const value = valueAt(data, path) as Record<string, unknown> | undefined;
      if (path.at(-1) === 'gate') return { path, message: `${where} needs exactly one of run or http` };
      const actions = STEP_ACTIONS.filter((a) => value && typeof value === 'object' && a in value);
      return {
        path,
        message: actions.length
          ? `${where} has ${actions.join(' and ')}: one step does one thing, split it into ${actions.length} steps`
          : `${where} does nothing: a step needs one of ${STEP_ACTIONS.join(', ')}`,
      };
    }
    case 'anyOf':
      return { path, message: `${where} is ${JSON.stringify(e.data)}: ${parent?.description ?? 'not an allowed value'}` };
    case 'enum':
      return { path, message: `${where} must be one of ${(e.params as { allowedValues: unknown[] }).allowedValues.map((v) => JSON.stringify(v)).join(', ')}` };
    case 'pattern':
      return { path, message: `${where} is ${JSON.stringify(e.data)}: ${parent?.description ?? e.message}` };
    default:
      return { path, message: `${where} ${e.message ?? 'is not valid'}${e.keyword === 'type' ? `, not ${JSON.stringify(e.data)}` : ''}` };
  }
}

export function valueAt(data: unknown, path: readonly (string | number)[]): unknown {
  let v = data;
  for (const p of path) v = v && typeof v === 'object' ? (v as Record<string | number, unknown>)[p] : undefined;
  return v;
}

/**
 * Problems of a parsed document against the schema, one per fault: errors of the branches of a
 * oneOf/anyOf are summed up by that oneOf/anyOf, and a step with an unknown key is not also told it
 * does nothing.
 */
export function schemaProblems(data: unknown): SchemaProblem[] {
  if (validateWorkflow(data)) return [];
  const errors = (validateWorkflow.errors ?? []).filter((e) => !/\/(oneOf|anyOf)\/\d+\//.test(e.schemaPath));
  const unknownKeyAt = new Set(errors.filter((e) => e.keyword === 'additionalProperties').map((e) => e.instancePath));
  const seen = new Set<string>();
  const problems: SchemaProblem[] = [];
  for (const e of errors) {
    if (e.keyword === 'oneOf' && unknownKeyAt.has(e.instancePath)) continue;
    const p = describe(e, data);
    if (seen.has(p.message)) continue;
    seen.add(p.message);
    problems.push(p);
  }
  return problems;
}
