// The lab file's JSON Schema, generated from the one valibot schema (schema.ts),
// published as labs/lab.schema.json so that editors complete and check lab files
// (a `# yaml-language-server: $schema=./lab.schema.json` line). What JSON Schema
// cannot say (guest names that must exist, RAM an image needs) only the
// validator checks: `npm run lab:check`.
import { toJsonSchema } from '@valibot/to-json-schema';
import { LAB_FORMAT_VERSION, LAB_SCHEMA } from './schema.ts';
import { EXPERIMENT_FORMAT_VERSION, EXPERIMENT_SCHEMA } from './experiment-schema.ts';

/** The JSON Schema of lab files, as published. */
export function labJsonSchema(): Record<string, unknown> {
  // 'ignore': actions without a JSON Schema form (trim) are left to the validator.
  const schema = toJsonSchema(LAB_SCHEMA, { errorMode: 'ignore' }) as Record<string, unknown>;
  return {
    ...schema,
    $id: 'lab.schema.json',
    title: `Hypervisor playground lab file, version ${LAB_FORMAT_VERSION}`,
    description: 'A lab: host settings, guests, and steps with instructions, hints, a solution and checks. See README "Write a lab".',
  };
}

/** The schema as the published file's text. */
export function labJsonSchemaText(): string {
  return `${JSON.stringify(labJsonSchema(), null, 2)}\n`;
}

/** The JSON Schema of experiment files (experiments/experiment.schema.json), as its file's text. */
export function experimentJsonSchemaText(): string {
  const schema = toJsonSchema(EXPERIMENT_SCHEMA, { errorMode: 'ignore' }) as Record<string, unknown>;
  const published = {
    ...schema,
    $id: 'experiment.schema.json',
    title: `Hypervisor playground experiment file, version ${EXPERIMENT_FORMAT_VERSION}`,
    description: 'An experiment: host, guests with workloads, parameters to sweep, warm-up, duration, repeats, metrics and plots. See README "Experiments".',
  };
  return `${JSON.stringify(published, null, 2)}\n`;
}
