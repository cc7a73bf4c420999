import {
  GetFoundationModelAvailabilityCommand,
  GetFoundationModelCommand,
  GetInferenceProfileCommand,
  type GetFoundationModelAvailabilityCommandOutput,
  type GetFoundationModelCommandOutput,
} from '@aws-sdk/client-bedrock';
import { CliError, errorName } from '../errors.js';
import { parseModelId } from './arns.js';
import { isNotFound } from './diff.js';
import type { Ctx, ModelAccess } from './types.js';

const FIRST_DEPLOYMENT = 'README, "First deployment on AWS"';

/** Bedrock answers an id it does not know with ResourceNotFound or ValidationException: undefined. */
async function absent<T>(call: Promise<T>): Promise<T | undefined> {
  try {
    return await call;
  } catch (err) {
    if (isNotFound(err) || errorName(err) === 'ValidationException') return undefined;
    throw err;
  }
}

/** Lifecycle and availability of one foundation model, as problems to report (empty: usable). */
function modelProblems(modelId: string, region: string, model: GetFoundationModelCommandOutput | undefined, availability: GetFoundationModelAvailabilityCommandOutput | undefined, now: Date): string[] {
  const problems: string[] = [];
  const lifecycle = model?.modelDetails?.modelLifecycle;
  if (lifecycle?.endOfLifeTime && lifecycle.endOfLifeTime <= now) {
    problems.push(`${modelId} reached its end of life on ${lifecycle.endOfLifeTime.toISOString().slice(0, 10)}: calls fail; choose a current model (aws bedrock list-foundation-models).`);
  } else if (lifecycle?.status === 'LEGACY') {
    const end = lifecycle.endOfLifeTime ? ` (end of life ${lifecycle.endOfLifeTime.toISOString().slice(0, 10)})` : '';
    problems.push(`${modelId} is a legacy model${end}: choose a current model, or pass --skip-model-check to deploy it anyway.`);
  }
  if (!availability) return problems;
  if (availability.regionAvailability === 'NOT_AVAILABLE') {
    problems.push(`${modelId} is not offered in ${region}: use a Region where it is, or a cross-Region inference profile id (us., eu., apac., global.).`);
  }
  if (availability.authorizationStatus === 'NOT_AUTHORIZED') {
    problems.push(`your account is not authorized to use ${modelId} (NOT_AUTHORIZED): an IAM policy or SCP denies it, or model access was never granted; see ${FIRST_DEPLOYMENT}.`);
  }
  if (availability.entitlementAvailability === 'NOT_AVAILABLE') {
    problems.push(`your account has no entitlement to ${modelId}: enable it in the Bedrock console (a Marketplace subscription, which needs aws-marketplace:Subscribe and a valid payment method).`);
  }
  const agreement = availability.agreementAvailability;
  if (agreement?.status === 'PENDING') problems.push(`the agreement for ${modelId} is still being processed (PENDING): wait a few minutes, then run up again.`);
  if (agreement?.status === 'NOT_AVAILABLE') {
    problems.push(`${modelId} needs an agreement first (NOT_AVAILABLE): accept its offer in the Bedrock console (Anthropic models: submit the first-time-use form).`);
  }
  if (agreement?.status === 'ERROR') problems.push(`the agreement for ${modelId} failed (ERROR${agreement.errorMessage ? `: ${agreement.errorMessage}` : ''}): check the Marketplace subscription and payment method.`);
  return problems;
}

/**
 * The preflight `up` runs before it plans: can this account call the model in this Region? Reads
 * the inference profile (its ARN and its models' ARNs, which the worker's policy then grants
 * exactly), the foundation model's lifecycle and its availability to the account, and refuses
 * with one line per problem and its fix.
 */
export async function checkModelAccess(ctx: Ctx, modelId: string, now = new Date()): Promise<ModelAccess> {
  const bedrock = await ctx.clients.bedrock();
  const { region } = ctx.account;
  const target = parseModelId(modelId);
  const refuse = (problems: string[]) => new CliError(
    `Model ${modelId} cannot be used from ${region} yet:\n${problems.map((p) => `  - ${p}`).join('\n')}\n` +
    `Fix it and run up again (${FIRST_DEPLOYMENT}), or pass --skip-model-check to deploy without this check.`);

  let profileArn: string | undefined;
  let modelArns: string[] = [];
  let foundationModelId = target.foundationModelId;
  if (target.profileId) {
    const profile = await absent(bedrock.send(new GetInferenceProfileCommand({ inferenceProfileIdentifier: target.profileId })));
    if (!profile) {
      throw refuse([`there is no inference profile ${target.profileId} in ${region}: profiles exist per source Region (aws bedrock list-inference-profiles --region ${region}), or use a foundation model id.`]);
    }
    modelArns = [...new Set((profile.models ?? []).map((m) => m.modelArn!).filter(Boolean))].sort();
    if (profile.status !== 'ACTIVE' || !modelArns.length) throw refuse([`inference profile ${target.profileId} is ${profile.status ?? 'not active'} with ${modelArns.length} models.`]);
    profileArn = profile.inferenceProfileArn!;
    foundationModelId = modelArns[0]!.slice(modelArns[0]!.indexOf('foundation-model/') + 'foundation-model/'.length);
  }

  const [model, availability] = await Promise.all([
    absent(bedrock.send(new GetFoundationModelCommand({ modelIdentifier: foundationModelId }))),
    absent(bedrock.send(new GetFoundationModelAvailabilityCommand({ modelId: foundationModelId }))),
  ]);
  if (!target.profileId) {
    if (!model?.modelDetails?.modelArn) throw refuse([`there is no foundation model ${foundationModelId} in ${region}: check the id (aws bedrock list-foundation-models --region ${region}) or use an inference profile id.`]);
    modelArns = [model.modelDetails.modelArn];
  }
  const problems = modelProblems(foundationModelId, region, model, availability, now);
  const types = model?.modelDetails?.inferenceTypesSupported;
  if (!target.profileId && types && !types.includes('ON_DEMAND')) {
    problems.push(`${foundationModelId} cannot be called on demand in ${region}, only through an inference profile: use its profile id, e.g. us.${foundationModelId} or global.${foundationModelId}.`);
  }
  if (problems.length) throw refuse(problems);
  return { ...(profileArn ? { profileArn } : {}), modelArns };
}
