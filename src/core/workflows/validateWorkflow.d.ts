// The type of the generated validateWorkflow.js (scripts/workflow-validator.ts): an ajv validate function.
import type { ErrorObject } from 'ajv';

declare function validateWorkflow(data: unknown): boolean;
declare namespace validateWorkflow {
  let errors: ErrorObject[] | null | undefined;
}
export default validateWorkflow;
