import { CreateTableCommand, DynamoDBClient, GetItemCommand } from '@aws-sdk/client-dynamodb';
import { fileURLToPath } from 'node:url';
import { CreateQueueCommand, ReceiveMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CloudWatchClient, PutMetricDataCommand } from '@aws-sdk/client-cloudwatch';
import { CreateRoleCommand, IAMClient } from '@aws-sdk/client-iam';
import { CreateEventSourceMappingCommand, CreateFunctionCommand, GetEventSourceMappingCommand, LambdaClient, ListTagsCommand, TagResourceCommand } from '@aws-sdk/client-lambda';
import { TEST_CODE } from '../helpers/fake-aws.js';
import { runNode } from '../helpers/cli.js';
import { startConverseServer, type ConverseServer } from '../helpers/converse-server.js';
import { requireMoto, startMoto, type Moto } from '../helpers/moto.js';

const BUNDLE = fileURLToPath(new URL('../../dist/worker/index.mjs', import.meta.url));
const hasMoto = requireMoto();

/** Runs the built bundle's handler in a fresh Node process, as Lambda would load it. */
function runBundle(env: Record<string, string>) {
  const script = `import { handler } from ${JSON.stringify(BUNDLE)};
const event = JSON.parse(process.env.TEST_EVENT);
const out = await handler(event, { getRemainingTimeInMillis: () => 30000 });
process.stdout.write('RESULT ' + JSON.stringify(out) + '\\n');`;
  return runNode(['--input-type=module', '-e', script], { PATH: process.env.PATH ?? '', ...env });
}

describe.runIf(hasMoto)('the built worker bundle (dist/worker/index.mjs)', () => {
  let moto: Moto;
  let model: ConverseServer;
  beforeAll(async () => {
    moto = await startMoto();
    model = await startConverseServer();
  });
  afterAll(async () => {
    await model?.close();
    await moto?.stop();
  });

  it('calls the model through the real Bedrock client, publishes with the real SQS client and stores with the real DynamoDB client', async () => {
    const config = { region: 'us-east-1', endpoint: moto.endpoint, credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' } };
    const sqs = new SQSClient(config);
    const dynamodb = new DynamoDBClient(config);
    const { QueueUrl } = await sqs.send(new CreateQueueCommand({ QueueName: 'bundle-results' }));
    await dynamodb.send(new CreateTableCommand({ TableName: 'bundle-results', AttributeDefinitions: [{ AttributeName: 'id', AttributeType: 'S' }], KeySchema: [{ AttributeName: 'id', KeyType: 'HASH' }], BillingMode: 'PAY_PER_REQUEST' }));
    const prompt = 'hostile & + % = "quotes"\nnewline 🚀 مرحبا';
    const event = {
      Records: [{
        messageId: 'msg-1', receiptHandle: 'rh-1', body: JSON.stringify({ prompt, metadata: { k: 'v' } }),
        attributes: { ApproximateReceiveCount: '1', SentTimestamp: '1764000000000' }, messageAttributes: {}, md5OfBody: '',
        eventSource: 'aws:sqs', eventSourceARN: 'arn:aws:sqs:us-east-1:123456789012:bundle-requests', awsRegion: 'us-east-1',
      }],
    };
    const env = {
      AWS_REGION: 'us-east-1', AWS_ACCESS_KEY_ID: 'testing', AWS_SECRET_ACCESS_KEY: 'testing',
      AWS_ENDPOINT_URL_SQS: moto.endpoint, AWS_ENDPOINT_URL_DYNAMODB: moto.endpoint, AWS_ENDPOINT_URL_BEDROCK_RUNTIME: model.endpoint,
      BQ_STACK_NAME: 'bundle', BQ_RESULTS_QUEUE_URL: QueueUrl!, BQ_MODEL_ID: 'global.anthropic.claude-sonnet-4-6', BQ_DEFAULT_MAX_TOKENS: '256',
      BQ_RESULTS_TABLE: 'bundle-results',
    };
    const run = await runBundle({ ...env, TEST_EVENT: JSON.stringify(event) });
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toContain('RESULT {"batchItemFailures":[]}');
    expect(model.calls).toEqual([{ modelId: 'global.anthropic.claude-sonnet-4-6', body: expect.objectContaining({ messages: [{ role: 'user', content: [{ text: prompt }] }], inferenceConfig: { maxTokens: 256 } }) }]);
    const received = await sqs.send(new ReceiveMessageCommand({ QueueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 1 }));
    expect(received.Messages).toHaveLength(1);
    const queued = received.Messages![0]!.Body!;
    expect(JSON.parse(queued)).toMatchObject({ id: 'msg-1', status: 'ok', output: `echo: ${prompt}`, metadata: { k: 'v' }, attempt: 1 });
    const stored = async () => (await dynamodb.send(new GetItemCommand({ TableName: 'bundle-results', Key: { id: { S: 'msg-1' } } }))).Item;
    expect((await stored())!.record!.S).toBe(queued);

    // A second delivery of the same request that ends in an error: DynamoDB's own evaluation of the
    // worker's condition keeps the ok, and the worker publishes what is stored, so every reader sees one answer.
    const duplicate = { Records: [{ ...event.Records[0]!, body: '{"prompt": ""}' }] };
    const again = await runBundle({ ...env, TEST_EVENT: JSON.stringify(duplicate) });
    expect(again.stdout).toContain('RESULT {"batchItemFailures":[]}');
    const second = await sqs.send(new ReceiveMessageCommand({ QueueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 1, VisibilityTimeout: 0 }));
    // (the first message is still invisible from the first receive: this is the republished one)
    expect(second.Messages!.map((m) => m.Body)).toEqual([queued]);
    expect((await stored())!.record!.S).toBe(queued);

    // A third delivery of a valid copy: the claim meets the stored ok, and the model is not called again.
    const third = await runBundle({ ...env, TEST_EVENT: JSON.stringify(event) });
    expect(third.stdout).toContain('RESULT {"batchItemFailures":[]}');
    expect(model.calls).toHaveLength(1);
  });

  it('answers the schedule\'s governor event with the Lambda and CloudWatch clients it leaves to the runtime (here, node_modules): a spent budget pauses its mapping', async () => {
    const config = { region: 'us-east-1', endpoint: moto.endpoint, credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' } };
    const { QueueUrl } = await new SQSClient(config).send(new CreateQueueCommand({ QueueName: 'gov-requests' }));
    const iam = new IAMClient(config);
    const role = await iam.send(new CreateRoleCommand({ RoleName: 'gov-worker', AssumeRolePolicyDocument: JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: { Service: 'lambda.amazonaws.com' }, Action: 'sts:AssumeRole' }] }) }));
    const lambda = new LambdaClient(config);
    await lambda.send(new CreateFunctionCommand({ FunctionName: 'gov-worker', Runtime: 'nodejs22.x', Role: role.Role!.Arn, Handler: 'index.handler', Code: { ZipFile: TEST_CODE.zip } }));
    const mapping = await lambda.send(new CreateEventSourceMappingCommand({
      FunctionName: 'gov-worker', EventSourceArn: `arn:aws:sqs:us-east-1:123456789012:gov-requests`, BatchSize: 1,
    }));
    await lambda.send(new TagResourceCommand({ Resource: mapping.EventSourceMappingArn!, Tags: { 'bedrock-queue:budget': '100-tokens/day' } }));
    await new CloudWatchClient(config).send(new PutMetricDataCommand({ Namespace: 'BedrockQueue', MetricData: [
      { MetricName: 'InputTokens', Dimensions: [{ Name: 'Stack', Value: 'gov' }], Value: 60, Unit: 'Count', Timestamp: new Date() },
      { MetricName: 'OutputTokens', Dimensions: [{ Name: 'Stack', Value: 'gov' }], Value: 50, Unit: 'Count', Timestamp: new Date() },
    ] }));
    const env = {
      AWS_REGION: 'us-east-1', AWS_ACCESS_KEY_ID: 'testing', AWS_SECRET_ACCESS_KEY: 'testing', AWS_ENDPOINT_URL: moto.endpoint,
      BQ_STACK_NAME: 'gov', BQ_RESULTS_QUEUE_URL: QueueUrl!, BQ_MODEL_ID: 'global.anthropic.claude-sonnet-4-6', BQ_RESULTS_TABLE: 'gov-results',
    };
    const run = await runBundle({ ...env, TEST_EVENT: JSON.stringify({ 'bq-governor': { mapping: mapping.UUID } }) });
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toContain('"message":"governor"');
    expect(run.stdout).toContain('"action":"pause"');
    expect((await lambda.send(new GetEventSourceMappingCommand({ UUID: mapping.UUID }))).State).toBe('Disabled');
    expect((await lambda.send(new ListTagsCommand({ Resource: mapping.EventSourceMappingArn! }))).Tags).toMatchObject({ 'bedrock-queue:budget-paused': new Date().toISOString().slice(0, 10) });
  });
});
