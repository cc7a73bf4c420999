// Worker figures for issue #3: bundle size, cold import time, CPU per request around a zero-latency model.
import { fork, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

const root = new URL('..', import.meta.url).pathname;
const bundle = `${root}dist/worker/index.mjs`;

const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

function coldImportMs(runs) {
  const script = `const t = performance.now(); await import(${JSON.stringify(bundle)}); process.stdout.write(String(performance.now() - t));`;
  const times = [];
  for (let i = 0; i < runs; i++) {
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
    times.push(Number(r.stdout));
  }
  return median(times);
}

/** The environment `up` gives the worker, pointed at the stand-ins when there are any. */
function setWorkerEnv(endpoints = { sqs: 'http://127.0.0.1:9' }) {
  Object.assign(process.env, {
    AWS_REGION: 'us-east-1', AWS_ACCESS_KEY_ID: 'bench', AWS_SECRET_ACCESS_KEY: 'bench',
    ...(endpoints.model ? { AWS_ENDPOINT_URL_BEDROCK_RUNTIME: endpoints.model, AWS_ENDPOINT_URL_SQS: endpoints.sqs, AWS_ENDPOINT_URL_DYNAMODB: endpoints.sqs } : {}),
    BQ_STACK_NAME: 'bench', BQ_RESULTS_QUEUE_URL: `${endpoints.sqs}/123456789012/bench-results`, BQ_MODEL_ID: 'local.echo', BQ_DEFAULT_MAX_TOKENS: '64',
    BQ_RESULTS_TABLE: 'bench-results',
  });
}

const eventFor = (i) => ({ Records: [{
  messageId: `m${i}`, receiptHandle: `r${i}`, body: JSON.stringify({ prompt: `prompt number ${i}` }),
  attributes: { ApproximateReceiveCount: '1', SentTimestamp: String(Date.now()) }, messageAttributes: {}, md5OfBody: '',
  eventSource: 'aws:sqs', eventSourceARN: 'arn:aws:sqs:us-east-1:123456789012:bench-requests', awsRegion: 'us-east-1',
}] });

/** CPU and wall time per handler call, one record per call as the mapping delivers them, after a warm-up. */
async function timeHandler(handler, requests) {
  const context = { getRemainingTimeInMillis: () => 60_000 };
  const log = console.log;
  let lastLine = '';
  console.log = (line) => (lastLine = line);
  try {
    for (let i = 0; i < 200; i++) await handler(eventFor(i), context);
    const cpu = process.cpuUsage();
    const started = performance.now();
    for (let i = 0; i < requests; i++) {
      const out = await handler(eventFor(i), context);
      if (out.batchItemFailures.length) throw new Error(`request ${i} failed: ${lastLine}`);
    }
    const used = process.cpuUsage(cpu);
    return { cpuMs: (used.user + used.system) / 1000 / requests, wallMs: (performance.now() - started) / requests };
  } finally {
    console.log = log;
  }
}

/** CPU per request of the built bundle through the real SDK clients, to stand-ins over loopback. */
async function cpuPerRequest(requests) {
  const stubs = fork(new URL('./stub-servers.mjs', import.meta.url));
  const endpoints = await new Promise((resolve) => stubs.once('message', resolve));
  try {
    setWorkerEnv(endpoints);
    const { handler } = await import(bundle);
    return await timeHandler(handler, requests);
  } finally {
    stubs.kill();
  }
}

/** Compiles one TypeScript module of the project with esbuild and imports it. */
async function importSource(path) {
  const { build } = await import('esbuild');
  const outfile = `${root}node_modules/.cache/bench/${path.replace(/\W+/g, '_')}.mjs`;
  await build({ entryPoints: [`${root}${path}`], outfile, bundle: true, format: 'esm', platform: 'node', packages: 'external', logLevel: 'warning' });
  return import(outfile);
}

/** The handler's own CPU per request: its clients stubbed in-process, so no SDK pipeline and no HTTP. */
async function handlerCpuPerRequest(requests) {
  const { mockClient } = await import('aws-sdk-client-mock');
  const { BedrockRuntimeClient, ConverseCommand } = await import('@aws-sdk/client-bedrock-runtime');
  const { SQSClient, SendMessageBatchCommand } = await import('@aws-sdk/client-sqs');
  const { DynamoDBClient, PutItemCommand } = await import('@aws-sdk/client-dynamodb');
  const bedrock = mockClient(BedrockRuntimeClient);
  const sqs = mockClient(SQSClient);
  const dynamodb = mockClient(DynamoDBClient);
  dynamodb.on(PutItemCommand).resolves({});
  bedrock.on(ConverseCommand).resolves({ output: { message: { role: 'assistant', content: [{ text: 'ok' }] } }, stopReason: 'end_turn', usage: { inputTokens: 1, outputTokens: 1, totalTokens: 2 } });
  sqs.on(SendMessageBatchCommand).callsFake((input) => ({ Successful: input.Entries.map((e) => ({ Id: e.Id, MessageId: 'm', MD5OfMessageBody: '' })), Failed: [] }));
  try {
    setWorkerEnv();
    const { handler } = await importSource('src/worker/index.ts');
    return await timeHandler(handler, requests);
  } finally {
    bedrock.restore();
    sqs.restore();
    dynamodb.restore();
  }
}

export async function measureWorker() {
  const { workerCode } = await importSource('src/provision/zip.ts');
  const code = await workerCode(new URL(`file://${bundle}`));
  return {
    minifiedKb: readFileSync(bundle).length / 1024,
    zippedKb: code.zip.length / 1024,
    importMs: coldImportMs(11),
    handler: await handlerCpuPerRequest(2000),
    withSdk: await cpuPerRequest(2000),
  };
}
