import { GetFoundationModelCommand } from '@aws-sdk/client-bedrock';
import { GetServiceQuotaCommand, ListAWSDefaultServiceQuotasCommand, type ServiceQuota } from '@aws-sdk/client-service-quotas';
import { DISCOUNT_LIMITS, type BatchLimits, type DiscountLimits } from '../client/discount-records.js';
import { CliError, describeError, errorName } from '../errors.js';
import { parseModelId } from '../provision/arns.js';
import type { Clients } from '../provision/aws.js';
import type { Ctx } from '../provision/types.js';

/** What the quotas are read with: the stack's Region and two clients (AWS's, or the local target's). */
export type QuotaReader = Pick<Ctx, 'account'> & { clients: Pick<Clients, 'bedrock' | 'serviceQuotas'> };

const GB = 1024 ** 3;

/**
 * Bedrock's batch inference quotas, as Service Quotas names them for each model: the subject, then
 * "for <model>" ("Records per batch inference job for Claude 3 Haiku"); the size quotas, in GB, put
 * "(in GB)" before "for" or after the model.
 */
const QUOTA_SUBJECTS: { limit: keyof DiscountLimits; subject: string; unit: number }[] = [
  { limit: 'minRecordsPerJob', subject: 'Minimum number of records per batch inference job', unit: 1 },
  { limit: 'maxRecordsPerFile', subject: 'Records per input file per batch inference job', unit: 1 },
  { limit: 'maxRecordsPerJob', subject: 'Records per batch inference job', unit: 1 },
  { limit: 'maxFileBytes', subject: 'Batch inference input file size', unit: GB },
  { limit: 'maxJobBytes', subject: 'Batch inference job size', unit: GB },
  { limit: 'maxSubmittedJobs', subject: 'Sum of in-progress and submitted batch inference jobs using a base model', unit: 1 },
];

const QUOTA_NAMES = QUOTA_SUBJECTS.map((quota) => ({
  ...quota,
  name: quota.unit === GB ? new RegExp(`^${quota.subject} (?:\\(in GB\\) )?for (.+?)(?: \\(in GB\\))?$`) : new RegExp(`^${quota.subject} for (.+)$`),
}));

/** A model's batch quotas as Service Quotas lists them (name, and value in its unit), for a local emulation. */
export function batchQuotasOf(modelName: string, limits: DiscountLimits): { name: string; value: number }[] {
  return QUOTA_SUBJECTS.map(({ limit, subject, unit }) => ({ name: `${subject}${unit === GB ? ' (in GB)' : ''} for ${modelName}`, value: limits[limit] / unit }));
}

/**
 * A model's name as Service Quotas and Bedrock both write it, made comparable: "Nova Lite V1" and
 * "Nova Lite", "OpenAI GPT OSS 120b" and "gpt-oss-120b", "Mistral Small" and "Mistral Small
 * (24.02)" are the same model.
 */
export function comparableModelName(name: string): string {
  return name.toLowerCase()
    .replace(/\s*\([^)]*\)/g, '')
    .replace(/[-_]/g, ' ')
    .replace(/^(anthropic|amazon|meta|openai|mistral ai|cohere|deepseek)\s+/, '')
    .replace(/\s+v1$/, '')
    .replace(/\s+/g, ' ')
    .trim();
}

/** A Service Quotas quota of Bedrock's batch inference: which limit, for which model. */
function batchQuota(quota: ServiceQuota) {
  for (const { limit, name, unit } of QUOTA_NAMES) {
    const model = name.exec(quota.QuotaName ?? '')?.[1];
    if (model) return { limit, unit, model: comparableModelName(model) };
  }
  return undefined;
}

async function defaultQuotas(ctx: QuotaReader): Promise<ServiceQuota[]> {
  const client = await ctx.clients.serviceQuotas();
  const quotas: ServiceQuota[] = [];
  let NextToken: string | undefined;
  do {
    const page = await client.send(new ListAWSDefaultServiceQuotasCommand({ ServiceCode: 'bedrock', MaxResults: 100, ...(NextToken ? { NextToken } : {}) }));
    quotas.push(...(page.Quotas ?? []));
    NextToken = page.NextToken;
  } while (NextToken);
  return quotas;
}

/** The account's value of a quota: its applied value, or the default when none was ever applied (NoSuchResourceException). */
async function appliedValue(ctx: QuotaReader, quota: ServiceQuota): Promise<number | undefined> {
  const client = await ctx.clients.serviceQuotas();
  try {
    const { Quota } = await client.send(new GetServiceQuotaCommand({ ServiceCode: 'bedrock', QuotaCode: quota.QuotaCode! }));
    return Quota?.Value ?? quota.Value;
  } catch (err) {
    if (errorName(err) === 'NoSuchResourceException') return quota.Value;
    throw err;
  }
}

/**
 * What Bedrock batch inference allows the stack's model in its Region, read before anything is
 * uploaded: the model's batch quotas in Service Quotas, with the account's applied values. No batch
 * quota for the model, where Service Quotas lists them for others (or for none): the model or the
 * Region has no batch inference, and the route is refused. Service Quotas or the model's name
 * unreadable: AWS's documented defaults, and Bedrock decides on the model when the first job is created.
 */
export async function batchLimits(ctx: QuotaReader, model: string): Promise<BatchLimits> {
  const { region } = ctx.account;
  const { foundationModelId } = parseModelId(model);
  let modelName: string | undefined;
  let quotas: ServiceQuota[];
  try {
    const bedrock = await ctx.clients.bedrock();
    const [details, listed] = await Promise.all([bedrock.send(new GetFoundationModelCommand({ modelIdentifier: foundationModelId })), defaultQuotas(ctx)]);
    modelName = details.modelDetails?.modelName;
    quotas = listed;
  } catch (err) {
    return { limits: { ...DISCOUNT_LIMITS }, source: `AWS's documented defaults: the model's batch quotas could not be read (${describeError(err)})` };
  }
  if (!modelName) return { limits: { ...DISCOUNT_LIMITS }, source: `AWS's documented defaults: Bedrock gave no name for ${foundationModelId}` };

  const batch = quotas.flatMap((quota) => {
    const found = batchQuota(quota);
    return found ? [{ quota, ...found }] : [];
  });
  const wanted = comparableModelName(modelName);
  const ours = batch.filter((q) => q.model === wanted);
  const drop = 'Drop --discount to send the file in real time.';
  if (!batch.length) throw new CliError(`Bedrock batch inference is not offered in ${region}: Service Quotas lists no batch inference quota there. ${drop}`);
  if (!ours.length) {
    const models = new Set(batch.map((q) => q.model)).size;
    throw new CliError(`${modelName} (${model}) has no batch inference in ${region}: Service Quotas lists batch inference quotas for ${models} other model${models === 1 ? '' : 's'} there, none for it. ${drop} ` +
      '(If Service Quotas names this model otherwise than Bedrock does, --skip-model-check plans by the documented defaults and lets Bedrock decide when the first job is created.)');
  }
  const limits: DiscountLimits = { ...DISCOUNT_LIMITS };
  let unread: unknown;
  await Promise.all(ours.map(async ({ quota, limit, unit }) => {
    const value = await appliedValue(ctx, quota).catch((err: unknown) => {
      unread ??= err;
      return quota.Value;
    });
    if (value !== undefined && value > 0) limits[limit] = Math.floor(value * unit);
  }));
  const defaults = unread ? `, default values (the account's could not be read: ${describeError(unread)})` : '';
  return { limits, source: `Service Quotas for ${modelName} in ${region}${defaults}` };
}
