import AjvDraft04 from 'ajv-draft-04';
import { describe, expect, it } from 'vitest';
import { MAX_PROMPT_CHARS, REQUEST_BODY_SCHEMA, validateInvokeRequest } from '../../src/contract.js';

/** API Gateway validates request bodies with JSON Schema draft 4; Ajv's draft-04 mode is an independent implementation. */
// A CommonJS package: its class is the module's `default` export.
const edge = new AjvDraft04.default({ allErrors: true }).compile(REQUEST_BODY_SCHEMA);

const bodies: [string, unknown][] = [
  ['a prompt', { prompt: 'hello' }],
  ['every field', { prompt: 'p', system: 's', maxTokens: 10, temperature: 0.5, metadata: { a: 'b' } }],
  ['an empty prompt', { prompt: '' }],
  ['no prompt', { system: 'x' }],
  ['a numeric prompt', { prompt: 42 }],
  ['the longest prompt', { prompt: 'x'.repeat(MAX_PROMPT_CHARS) }],
  ['a prompt one too long', { prompt: 'x'.repeat(MAX_PROMPT_CHARS + 1) }],
  ['an unknown field', { prompt: 'p', model: 'other' }],
  ['maxTokens 0', { prompt: 'p', maxTokens: 0 }],
  ['fractional maxTokens', { prompt: 'p', maxTokens: 1.5 }],
  ['maxTokens as a string', { prompt: 'p', maxTokens: '10' }],
  ['temperature 0', { prompt: 'p', temperature: 0 }],
  ['temperature 1.1', { prompt: 'p', temperature: 1.1 }],
  ['metadata with a number', { prompt: 'p', metadata: { a: 1 } }],
  ['metadata as an array', { prompt: 'p', metadata: ['a'] }],
  ['21 metadata keys', { prompt: 'p', metadata: Object.fromEntries(Array.from({ length: 21 }, (_, i) => [`k${i}`, 'v'])) }],
  ['a metadata value too long', { prompt: 'p', metadata: { a: 'v'.repeat(1025) } }],
  ['a client id', { id: '2c9de0d2-25c7-4397-99d4-5b9d4d70fcfe', prompt: 'p' }],
  ['a client id in upper case', { id: '2C9DE0D2-25C7-4397-99D4-5B9D4D70FCFE', prompt: 'p' }],
  ['an id that is not a UUID', { id: 'line-7', prompt: 'p' }],
  ['a UUID with more around it', { id: 'x2c9de0d2-25c7-4397-99d4-5b9d4d70fcfe', prompt: 'p' }],
  ['a numeric id', { id: 7, prompt: 'p' }],
  ['an array body', [{ prompt: 'p' }]],
  ['a string body', 'prompt'],
  ['null', null],
];

describe('the request contract', () => {
  for (const [what, body] of bodies) {
    it(`the worker and the API's JSON schema agree on ${what}`, () => {
      const problems = validateInvokeRequest(body);
      expect(problems.length === 0, `worker: ${problems.join('; ') || 'valid'}; schema: ${JSON.stringify(edge.errors ?? 'valid')}`).toBe(edge(body));
    });
  }

  it('says what is wrong, in words a client can act on', () => {
    expect(validateInvokeRequest({ prompt: '', maxTokens: 0, extra: true })).toEqual([
      'unknown property "extra"',
      '"prompt" must not be empty',
      '"maxTokens" must be an integer from 1 to 200000',
    ]);
  });
});
