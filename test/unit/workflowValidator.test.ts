import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { VALIDATOR_FILE, workflowValidatorSource } from '../../scripts/workflow-validator';

describe('the generated workflow validator', () => {
  it('is what ajv makes of schemas/workflow.schema.json now (regenerate: npx tsx scripts/workflow-validator.ts --write)', () => {
    expect(readFileSync(VALIDATOR_FILE, 'utf8') === workflowValidatorSource()).toBe(true);
  });
});
