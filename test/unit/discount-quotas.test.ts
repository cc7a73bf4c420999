/**
 * `batch --discount` reads the model's batch inference quotas before anything is uploaded (issue
 * 22): Service Quotas' ListAWSDefaultServiceQuotas and GetServiceQuota, with the quota names and
 * codes that AWS lists for Bedrock, and Bedrock's GetFoundationModel for the model's name.
 */
import { BedrockClient, GetFoundationModelCommand } from '@aws-sdk/client-bedrock';
import { S3Client, PutObjectCommand } from '@aws-sdk/client-s3';
import {
  AccessDeniedException, GetServiceQuotaCommand, ListAWSDefaultServiceQuotasCommand, NoSuchResourceException, ServiceQuotasClient, type ServiceQuota,
} from '@aws-sdk/client-service-quotas';
import { mockClient } from 'aws-sdk-client-mock';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { runDiscount } from '../../src/client/batch-inference.js';
import { DISCOUNT_LIMITS } from '../../src/client/discount-records.js';
import { batchLimits, comparableModelName } from '../../src/operate/discount-quotas.js';
import type { Ctx } from '../../src/provision/types.js';
import { FakeBatch } from '../helpers/fake-batch.js';
import { tempDir } from '../helpers/temp.js';

const credentials = { accessKeyId: 'a', secretAccessKey: 'b' };
const bedrock = new BedrockClient({ region: 'us-east-1', credentials });
const quotas = new ServiceQuotasClient({ region: 'us-east-1', credentials });
const bedrockMock = mockClient(bedrock);
const quotasMock = mockClient(quotas);
const ctx = { account: { region: 'us-east-1' }, clients: { bedrock: async () => bedrock, serviceQuotas: async () => quotas } } as unknown as Ctx;
const MODEL = 'global.anthropic.claude-sonnet-4-6';
const metadata = { $metadata: {} };

afterEach(() => {
  bedrockMock.reset();
  quotasMock.reset();
});

const quota = (QuotaCode: string, QuotaName: string, Value: number): ServiceQuota => ({ ServiceCode: 'bedrock', QuotaCode, QuotaName, Value, Adjustable: true });
/** Bedrock's batch quotas for Claude Sonnet 4.6 (as Service Quotas names them) among others, over two pages. */
const SONNET = [
  quota('L-S0000001', 'Minimum number of records per batch inference job for Claude Sonnet 4.6', 100),
  quota('L-S0000002', 'Records per batch inference job for Claude Sonnet 4.6', 50_000),
  quota('L-S0000003', 'Records per input file per batch inference job for Claude Sonnet 4.6', 50_000),
  quota('L-S0000004', 'Batch inference input file size (in GB) for Claude Sonnet 4.6', 1),
  quota('L-S0000005', 'Batch inference job size (in GB) for Claude Sonnet 4.6', 5),
  quota('L-S0000006', 'Sum of in-progress and submitted batch inference jobs using a base model for Claude Sonnet 4.6', 20),
];
const OTHERS = [
  quota('L-1F644C2A', 'Records per batch inference job for Claude 3 Haiku', 50_000),
  quota('L-007D91B8', 'Batch inference job size for Qwen3 Coder 480B (in GB)', 5),
  quota('L-2DC80978', 'On-demand model inference requests per minute for Anthropic Claude 3 Haiku', 1_000),
];

function serviceQuotas(pages: ServiceQuota[][], applied: Record<string, number> = {}) {
  quotasMock.on(ListAWSDefaultServiceQuotasCommand).callsFake(async (input: { NextToken?: string }) => {
    const page = Number(input.NextToken ?? 0);
    return { Quotas: pages[page], ...(page + 1 < pages.length ? { NextToken: String(page + 1) } : {}) };
  });
  quotasMock.on(GetServiceQuotaCommand).callsFake(async (input: { QuotaCode: string }) => {
    if (!(input.QuotaCode in applied)) throw new NoSuchResourceException({ message: `The request failed because the specified service quota ${input.QuotaCode} does not exist.`, ...metadata });
    return { Quota: { ServiceCode: 'bedrock', QuotaCode: input.QuotaCode, Value: applied[input.QuotaCode] } };
  });
}
const modelNamed = (modelName: string) => bedrockMock.on(GetFoundationModelCommand).resolves({ modelDetails: { modelArn: 'arn:aws:bedrock:us-east-1::foundation-model/x', modelId: 'x', modelName } });

describe('the model\'s batch inference quotas', () => {
  it('reads every page of Bedrock\'s quotas, the model\'s name, and the account\'s applied values over the defaults', async () => {
    serviceQuotas([[...OTHERS.slice(0, 2), ...SONNET.slice(0, 3)], [...SONNET.slice(3), OTHERS[2]!]], { 'L-S0000002': 100_000, 'L-S0000006': 30 });
    modelNamed('Claude Sonnet 4.6');
    const read = await batchLimits(ctx, MODEL);
    expect(read).toEqual({
      limits: { minRecordsPerJob: 100, maxRecordsPerJob: 100_000, maxRecordsPerFile: 50_000, maxFileBytes: 1024 ** 3, maxJobBytes: 5 * 1024 ** 3, maxSubmittedJobs: 30 },
      source: 'Service Quotas for Claude Sonnet 4.6 in us-east-1',
    });
    expect(bedrockMock.commandCalls(GetFoundationModelCommand).map((c) => c.args[0].input)).toEqual([{ modelIdentifier: 'anthropic.claude-sonnet-4-6' }]);
    expect(quotasMock.commandCalls(ListAWSDefaultServiceQuotasCommand).map((c) => c.args[0].input)).toEqual([
      { ServiceCode: 'bedrock', MaxResults: 100 },
      { ServiceCode: 'bedrock', MaxResults: 100, NextToken: '1' },
    ]);
    // The model's six quotas, and no other.
    expect(quotasMock.commandCalls(GetServiceQuotaCommand).map((c) => c.args[0].input.QuotaCode).sort()).toEqual(SONNET.map((q) => q.QuotaCode));
  });

  it('a model Service Quotas lists no batch quota for, where it lists others: refused, naming the model and the Region', async () => {
    serviceQuotas([[...OTHERS, ...SONNET]]);
    modelNamed('Claude Opus 4.7');
    await expect(batchLimits(ctx, 'us.anthropic.claude-opus-4-7')).rejects.toThrow(
      'Claude Opus 4.7 (us.anthropic.claude-opus-4-7) has no batch inference in us-east-1: Service Quotas lists batch inference quotas for 3 other models there, none for it. Drop --discount to send the file in real time. ' +
      '(If Service Quotas names this model otherwise than Bedrock does, --skip-model-check plans by the documented defaults and lets Bedrock decide when the first job is created.)');
  });

  it('a Region with no batch quota at all: refused', async () => {
    serviceQuotas([[OTHERS[2]!]]);
    modelNamed('Claude Sonnet 4.6');
    await expect(batchLimits(ctx, MODEL)).rejects.toThrow('Bedrock batch inference is not offered in us-east-1: Service Quotas lists no batch inference quota there. Drop --discount to send the file in real time.');
  });

  it('without servicequotas permissions: AWS\'s documented defaults, saying why, and Bedrock decides at the first job', async () => {
    quotasMock.on(ListAWSDefaultServiceQuotasCommand).rejects(new AccessDeniedException({ message: 'User: arn:aws:iam::123456789012:user/dev is not authorized to perform: servicequotas:ListAWSDefaultServiceQuotas', ...metadata }));
    modelNamed('Claude Sonnet 4.6');
    const read = await batchLimits(ctx, MODEL);
    expect(read.limits).toEqual(DISCOUNT_LIMITS);
    expect(read.source).toBe('AWS\'s documented defaults: the model\'s batch quotas could not be read (Access denied: your credentials are missing the permission servicequotas:ListAWSDefaultServiceQuotas. Grant it ("bedrock-queue policy" prints every permission bedrock-queue needs) and run the command again.)');
  });

  it('applied values that cannot be read: the defaults Service Quotas lists, and the source says so', async () => {
    serviceQuotas([SONNET]);
    quotasMock.on(GetServiceQuotaCommand).rejects(new AccessDeniedException({ message: 'not authorized to perform: servicequotas:GetServiceQuota', ...metadata }));
    modelNamed('Claude Sonnet 4.6');
    const read = await batchLimits(ctx, MODEL);
    expect(read.limits).toEqual(DISCOUNT_LIMITS);
    expect(read.source).toMatch(/^Service Quotas for Claude Sonnet 4\.6 in us-east-1, default values \(the account's could not be read: Access denied: your credentials are missing the permission servicequotas:GetServiceQuota\. /);
  });

  it('compares the model names Service Quotas and Bedrock write differently', () => {
    const same: [string, string][] = [['Nova Lite V1', 'Nova Lite'], ['OpenAI GPT OSS 120b', 'gpt-oss-120b'], ['Claude 3.5 Sonnet v2', 'Claude 3.5 Sonnet v2'], ['Anthropic Claude 3 Haiku', 'Claude 3 Haiku'], ['Llama 3.1 70B Instruct', 'Llama 3.1 70B Instruct'], ['Mistral Small', 'Mistral Small (24.02)']];
    for (const [quotaName, modelName] of same) expect(comparableModelName(quotaName)).toBe(comparableModelName(modelName));
    const different: [string, string][] = [['Claude 3.5 Sonnet', 'Claude 3.5 Sonnet v2'], ['Claude Sonnet 4.5', 'Claude Sonnet 4.5 V1 1M Context Length'], ['Qwen3 32B', 'Qwen3 Coder 30B']];
    for (const [a, b] of different) expect(comparableModelName(a)).not.toBe(comparableModelName(b));
  });
});

describe('batch --discount with a model that has no batch inference', () => {
  it('is refused before anything is uploaded, and leaves no file', async () => {
    const clients = { bedrock: new BedrockClient({ region: 'us-east-1', credentials }), s3: new S3Client({ region: 'us-east-1', credentials }) };
    const fake = new FakeBatch(clients.bedrock, clients.s3);
    serviceQuotas([[...OTHERS, ...SONNET]]);
    modelNamed('Claude Opus 4.7');
    const dir = tempDir('bq-quotas-');
    const path = join(dir, 'prompts.jsonl');
    writeFileSync(path, `${Array.from({ length: 150 }, (_, i) => `prompt ${i + 1}`).join('\n')}\n`);
    const target = { stack: 'demo', bucket: 'demo-bq', roleArn: 'arn:aws:iam::123456789012:role/demo-batch', model: 'us.anthropic.claude-opus-4-7', defaults: { maxTokens: 512 }, quotas: () => batchLimits(ctx, 'us.anthropic.claude-opus-4-7') };
    const out = join(dir, 'answers.jsonl');
    await expect(runDiscount(clients, target, { file: path, out, resume: false, timeoutMs: 60_000 }, () => undefined)).rejects.toThrow('has no batch inference in us-east-1');
    expect(fake.s3Mock.commandCalls(PutObjectCommand)).toHaveLength(0);
    expect([out, `${out}.journal`, `${out}.discount`].filter((f) => existsSync(f))).toEqual([]);
    fake.bedrockMock.reset();
    fake.s3Mock.reset();
  });
});
