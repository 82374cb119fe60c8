// Regenerates docs/schema.md and docs/schema/*.json from the zod schema.
import { mkdirSync, writeFileSync } from 'node:fs';
import { DOCUMENTS, jsonSchemaOf, renderSchemaDocs } from '../src/model/schema-docs.ts';

mkdirSync('docs/schema', { recursive: true });
writeFileSync('docs/schema.md', renderSchemaDocs());
for (const d of DOCUMENTS) {
  writeFileSync(
    `docs/schema/${d.kind.toLowerCase()}.json`,
    `${JSON.stringify(jsonSchemaOf(d.schema), null, 2)}\n`,
  );
}
console.log('wrote docs/schema.md and docs/schema/{cluster,node,policy}.json');
