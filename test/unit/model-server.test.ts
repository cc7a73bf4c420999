import { BedrockRuntimeClient, ConverseCommand } from '@aws-sdk/client-bedrock-runtime';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { afterEach, describe, expect, it } from 'vitest';
import { chatCompletionsUrl, startModelServer, type ModelServer } from '../../src/local/services/model-server.js';
import { startOpenAiServer, type OpenAiServer } from '../helpers/openai-server.js';

let upstream: OpenAiServer | undefined;
let model: ModelServer | undefined;
afterEach(async () => {
  await model?.close();
  await upstream?.close();
  model = upstream = undefined;
});

/** The worker's view: the real BedrockRuntimeClient over HTTP/1.1, as the worker sets it, pointed at the local model server. */
const bedrock = (endpoint: string) => new BedrockRuntimeClient({ region: 'us-east-1', endpoint, maxAttempts: 1, requestHandler: new NodeHttpHandler(), credentials: { accessKeyId: 'local', secretAccessKey: 'local' } });
const converse = (endpoint: string, modelId: string, extra: Partial<ConverseCommand['input']> = {}) => bedrock(endpoint).send(new ConverseCommand({
  modelId, messages: [{ role: 'user', content: [{ text: 'Why is the sky blue? & 100% "sure" 🌍' }] }], ...extra,
}));

describe('the local model server', () => {
  it('answers local.echo with the prompt verbatim and its token usage', async () => {
    model = await startModelServer();
    const answer = await converse(model.endpoint, 'local.echo');
    expect(answer.output?.message?.content).toEqual([{ text: 'echo: Why is the sky blue? & 100% "sure" 🌍' }]);
    expect(answer.stopReason).toBe('end_turn');
    expect(answer.usage).toMatchObject({ inputTokens: expect.any(Number), outputTokens: expect.any(Number) });
  });

  it('refuses another model id as Bedrock does, with a ValidationException', async () => {
    model = await startModelServer();
    await expect(converse(model.endpoint, 'anthropic.claude-3-haiku-20240307-v1:0')).rejects.toMatchObject({ name: 'ValidationException', message: expect.stringContaining('only serves local.echo') });
  });

  it('forwards to an OpenAI-compatible server: model, system, messages and settings translated both ways', async () => {
    upstream = await startOpenAiServer();
    model = await startModelServer({ forwardTo: upstream.baseUrl, forwardKey: 'sk-local-test' });
    const answer = await converse(model.endpoint, 'qwen2.5:0.5b', { system: [{ text: 'Be brief.' }], inferenceConfig: { maxTokens: 1, temperature: 0.2, topP: 0.9, stopSequences: ['END'] } });
    expect(upstream.calls).toEqual([{
      path: '/v1/chat/completions',
      authorization: 'Bearer sk-local-test',
      body: {
        model: 'qwen2.5:0.5b',
        messages: [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'Why is the sky blue? & 100% "sure" 🌍' }],
        max_tokens: 1, temperature: 0.2, top_p: 0.9, stop: ['END'],
      },
    }]);
    expect(answer.output?.message?.content).toEqual([{ text: 'qwen2.5:0.5b says: Why is the sky blue? & 100% "sure" 🌍' }]);
    expect(answer.stopReason).toBe('max_tokens');
    expect(answer.usage).toEqual({ inputTokens: 11, outputTokens: 7, totalTokens: 18 });
    expect(model.stats()).toMatchObject({ calls: 1, answered: 1, failed: 0 });
  });

  it('names upstream failures as Bedrock would, so the worker retries or gives up as it should', async () => {
    upstream = await startOpenAiServer();
    model = await startModelServer({ forwardTo: upstream.baseUrl });
    upstream.failWith(429, JSON.stringify({ error: { message: 'rate limited' } }));
    await expect(converse(model.endpoint, 'm.1')).rejects.toMatchObject({ name: 'ThrottlingException', message: 'The model endpoint answered 429: rate limited' });
    upstream.failWith(404, JSON.stringify({ error: { message: 'model "m.1" not found, try pulling it first' } }));
    await expect(converse(model.endpoint, 'm.1')).rejects.toMatchObject({ name: 'ResourceNotFoundException', message: expect.stringContaining('not found, try pulling it first') });
    upstream.failWith(400, JSON.stringify({ error: 'bad temperature' }));
    await expect(converse(model.endpoint, 'm.1')).rejects.toMatchObject({ name: 'ValidationException', message: 'The model endpoint answered 400: bad temperature' });
    upstream.failWith(502, 'Bad Gateway');
    await expect(converse(model.endpoint, 'm.1')).rejects.toMatchObject({ name: 'ServiceUnavailableException', message: 'The model endpoint answered 502: Bad Gateway' });
    expect(model.stats()).toMatchObject({ calls: 4, answered: 0, throttled: 1, failed: 3 });
  });

  it('says so when the endpoint does not answer at all', async () => {
    upstream = await startOpenAiServer();
    const gone = upstream.baseUrl;
    await upstream.close();
    upstream = undefined;
    model = await startModelServer({ forwardTo: gone });
    await expect(converse(model.endpoint, 'm.1')).rejects.toMatchObject({ name: 'ServiceUnavailableException', message: expect.stringMatching(/^The model endpoint http:\/\/127\.0\.0\.1:\d+ did not answer \(.*ECONNREFUSED/) });
  });

  it('takes a base URL or the full chat completions URL, http or https only', () => {
    expect(chatCompletionsUrl('http://127.0.0.1:11434/v1')).toBe('http://127.0.0.1:11434/v1/chat/completions');
    expect(chatCompletionsUrl('http://127.0.0.1:11434/v1/')).toBe('http://127.0.0.1:11434/v1/chat/completions');
    expect(chatCompletionsUrl('https://example.com/v1/chat/completions')).toBe('https://example.com/v1/chat/completions');
    expect(() => chatCompletionsUrl('ftp://example.com/v1')).toThrow(/http:\/\/ or https:\/\//);
  });

  it('throttles above its quota with the ThrottlingException Bedrock sends', async () => {
    model = await startModelServer({ requestsPerMinute: 2 });
    await converse(model.endpoint, 'local.echo');
    await converse(model.endpoint, 'local.echo');
    await expect(converse(model.endpoint, 'local.echo')).rejects.toMatchObject({ name: 'ThrottlingException', message: 'Too many requests, please wait before trying again.', $metadata: { httpStatusCode: 429 } });
  });
});
