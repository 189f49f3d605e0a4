// Typed documents from the server's contract, schema.graphql (no server needed to generate).
import type { CodegenConfig } from '@graphql-codegen/cli';

const config: CodegenConfig = {
  schema: '../../schema.graphql',
  documents: ['src/**/*.ts', 'e2e/**/*.ts', '!src/gql/**/*'],
  ignoreNoDocuments: false,
  generates: {
    './src/gql/': {
      preset: 'client',
      presetConfig: { fragmentMasking: false },
      config: {
        strictScalars: true,
        // The schema's scalars: DateTime (RFC 3339 instant), Date (YYYY-MM-DD), LocalTime
        // (HH:MM) travel as strings; JSON is an event's details; an Upload is sent as a Blob (a File)
        // in a multipart request.
        scalars: { DateTime: 'string', Date: 'string', LocalTime: 'string', JSON: 'unknown', Upload: 'Blob' },
        enumsAsTypes: true,
        useTypeImports: true,
      },
    },
  },
};

export default config;
