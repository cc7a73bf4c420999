/**
 * The model preflight against the Bedrock control plane's real answers (GetInferenceProfile,
 * GetFoundationModel, GetFoundationModelAvailability), and the exact worker policy it yields.
 */
import {
  BedrockClient,
  GetFoundationModelAvailabilityCommand,
  GetFoundationModelCommand,
  GetInferenceProfileCommand,
  ResourceNotFoundException,
  type GetFoundationModelAvailabilityCommandOutput,
  type InferenceType,
  type GetFoundationModelCommandOutput,
} from '@aws-sdk/client-bedrock';
import { PutRolePolicyCommand } from '@aws-sdk/client-iam';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { apply, observe, plan } from '../../src/provision/engine.js';
import { checkModelAccess } from '../../src/provision/model-access.js';
import { ACCOUNT, REGION, convergedAccount, emptyAccount, mockAws, mutatingCommands, resetMocks, session, type Mocks } from '../helpers/fake-aws.js';

const PROFILE = 'global.anthropic.claude-sonnet-4-6';
const PROFILE_ARN = `arn:aws:bedrock:${REGION}:${ACCOUNT}:inference-profile/${PROFILE}`;
const MODEL_ARNS = [
  'arn:aws:bedrock:::foundation-model/anthropic.claude-sonnet-4-6',
  `arn:aws:bedrock:${REGION}::foundation-model/anthropic.claude-sonnet-4-6`,
  'arn:aws:bedrock:us-west-2::foundation-model/anthropic.claude-sonnet-4-6',
];
const HAIKU = 'anthropic.claude-3-haiku-20240307-v1:0';

const bedrock = mockClient(BedrockClient);
let mocks: Mocks | undefined;

const available: GetFoundationModelAvailabilityCommandOutput = {
  modelId: 'anthropic.claude-sonnet-4-6', agreementAvailability: { status: 'AVAILABLE' }, authorizationStatus: 'AUTHORIZED',
  entitlementAvailability: 'AVAILABLE', regionAvailability: 'AVAILABLE', $metadata: {},
};
const model = (modelId: string, extra: Partial<NonNullable<GetFoundationModelCommandOutput['modelDetails']>> = {}): GetFoundationModelCommandOutput => ({
  modelDetails: { modelId, modelArn: `arn:aws:bedrock:${REGION}::foundation-model/${modelId}`, inferenceTypesSupported: ['ON_DEMAND'], modelLifecycle: { status: 'ACTIVE' }, ...extra },
  $metadata: {},
});

beforeEach(() => {
  bedrock.reset();
  bedrock.on(GetInferenceProfileCommand).resolves({
    inferenceProfileId: PROFILE, inferenceProfileArn: PROFILE_ARN, inferenceProfileName: 'Global Claude Sonnet 4.6', status: 'ACTIVE', type: 'SYSTEM_DEFINED',
    models: MODEL_ARNS.map((modelArn) => ({ modelArn })),
  });
  bedrock.on(GetFoundationModelCommand).callsFake((input) => model(input.modelIdentifier));
  bedrock.on(GetFoundationModelAvailabilityCommand).resolves(available);
});
afterEach(() => {
  if (mocks) resetMocks(mocks);
  mocks = undefined;
});

async function check(modelId: string) {
  mocks = mockAws(emptyAccount());
  const s = await session();
  return checkModelAccess(s.ctx, modelId, new Date('2026-11-25T00:00:00Z'));
}

describe('the model preflight', () => {
  it('reads the profile, then its foundation model\'s lifecycle and availability', async () => {
    expect(await check(PROFILE)).toEqual({ profileArn: PROFILE_ARN, modelArns: [...MODEL_ARNS].sort() });
    expect(bedrock.commandCalls(GetInferenceProfileCommand).map((c) => c.args[0].input)).toEqual([{ inferenceProfileIdentifier: PROFILE }]);
    expect(bedrock.commandCalls(GetFoundationModelCommand).map((c) => c.args[0].input)).toEqual([{ modelIdentifier: 'anthropic.claude-sonnet-4-6' }]);
    expect(bedrock.commandCalls(GetFoundationModelAvailabilityCommand).map((c) => c.args[0].input)).toEqual([{ modelId: 'anthropic.claude-sonnet-4-6' }]);
  });

  it('refuses a profile that does not exist in the Region, saying where to look', async () => {
    bedrock.on(GetInferenceProfileCommand).rejects(new ResourceNotFoundException({ message: 'The specified inference profile does not exist.', $metadata: { httpStatusCode: 404 } }));
    await expect(check('apac.anthropic.claude-sonnet-4-6')).rejects.toThrow(/there is no inference profile apac\.anthropic\.claude-sonnet-4-6 in us-east-1: .*list-inference-profiles --region us-east-1/);
  });

  it('names every problem of a model waiting for access, one line each, with its fix', async () => {
    bedrock.on(GetFoundationModelAvailabilityCommand).resolves({ ...available, authorizationStatus: 'NOT_AUTHORIZED', agreementAvailability: { status: 'PENDING' } });
    const err = await check(PROFILE).catch((e: Error) => e);
    expect((err as Error).message.split('\n')).toEqual([
      `Model ${PROFILE} cannot be used from us-east-1 yet:`,
      expect.stringMatching(/^ {2}- your account is not authorized to use anthropic\.claude-sonnet-4-6 \(NOT_AUTHORIZED\): .*First deployment on AWS/),
      expect.stringMatching(/^ {2}- the agreement for anthropic\.claude-sonnet-4-6 is still being processed \(PENDING\): wait a few minutes, then run up again\.$/),
      expect.stringMatching(/--skip-model-check/),
    ]);
  });

  it('explains an agreement not yet made, a missing entitlement and a Region without the model', async () => {
    bedrock.on(GetFoundationModelAvailabilityCommand).resolves({ ...available, agreementAvailability: { status: 'NOT_AVAILABLE' }, entitlementAvailability: 'NOT_AVAILABLE', regionAvailability: 'NOT_AVAILABLE' });
    const message = (await check(HAIKU).catch((e: Error) => e) as Error).message;
    expect(message).toMatch(/is not offered in us-east-1/);
    expect(message).toMatch(/no entitlement .* Marketplace subscription, which needs aws-marketplace:Subscribe and a valid payment method/);
    expect(message).toMatch(/needs an agreement first \(NOT_AVAILABLE\): .*first-time-use form/);
  });

  it('refuses a legacy model and one past its end of life', async () => {
    bedrock.on(GetFoundationModelCommand).resolves(model(HAIKU, { modelLifecycle: { status: 'LEGACY', endOfLifeTime: new Date('2027-03-01T00:00:00Z') } }));
    await expect(check(HAIKU)).rejects.toThrow(/is a legacy model \(end of life 2027-03-01\): choose a current model/);
    bedrock.on(GetFoundationModelCommand).resolves(model(HAIKU, { modelLifecycle: { status: 'LEGACY', endOfLifeTime: new Date('2026-01-01T00:00:00Z') } }));
    await expect(check(HAIKU)).rejects.toThrow(/reached its end of life on 2026-01-01/);
  });

  it('refuses a foundation model id that can only be called through a profile, naming the profile ids', async () => {
    // AWS answers INFERENCE_PROFILE for such models, a value the SDK's InferenceType enum does not list.
    bedrock.on(GetFoundationModelCommand).resolves(model('anthropic.claude-sonnet-4-6', { inferenceTypesSupported: ['INFERENCE_PROFILE'] as unknown as InferenceType[] }));
    await expect(check('anthropic.claude-sonnet-4-6')).rejects.toThrow(/cannot be called on demand in us-east-1, only through an inference profile: use its profile id, e\.g\. us\.anthropic\.claude-sonnet-4-6/);
  });

  it('refuses a foundation model that does not exist in the Region', async () => {
    bedrock.on(GetFoundationModelCommand).rejects(new ResourceNotFoundException({ message: 'The model does not exist.', $metadata: { httpStatusCode: 404 } }));
    await expect(check('anthropic.claude-nope-v1:0')).rejects.toThrow(/there is no foundation model anthropic\.claude-nope-v1:0 in us-east-1/);
  });
});

describe('the worker\'s policy from the preflight', () => {
  it('grants InvokeModel on the profile and exactly its models\' ARNs, the Region-less global one included', async () => {
    mocks = mockAws(emptyAccount());
    const s = await session();
    s.ctx.modelAccess = await checkModelAccess(s.ctx, PROFILE);
    const observed = await observe(s.ctx);
    await apply(s.ctx, observed, await plan(s.ctx, observed), (_i, run) => run());
    const worker = mocks.iam.commandCalls(PutRolePolicyCommand).map((c) => JSON.parse(c.args[0].input.PolicyDocument!)).find((p) => JSON.stringify(p).includes('bedrock'));
    expect(worker.Statement.filter((st: { Action: string }) => st.Action === 'bedrock:InvokeModel')).toEqual([
      { Sid: 'InvokeInferenceProfile', Effect: 'Allow', Action: 'bedrock:InvokeModel', Resource: PROFILE_ARN },
      { Sid: 'InvokeProfileModel', Effect: 'Allow', Action: 'bedrock:InvokeModel', Resource: [...MODEL_ARNS].sort(), Condition: { StringEquals: { 'bedrock:InferenceProfileArn': PROFILE_ARN } } },
    ]);
  });

  it('is kept by status and by --skip-model-check while the model is the same, but a widened statement is repaired', async () => {
    const state = convergedAccount();
    const policy = state.roles['demo-worker']!.policy as { Statement: { Sid: string; Resource: unknown }[] };
    policy.Statement.find((st) => st.Sid === 'InvokeProfileModel')!.Resource = [...MODEL_ARNS].sort();
    mocks = mockAws(state);
    let s = await session();
    let observed = await observe(s.ctx);
    expect((await plan(s.ctx, observed)).find((i) => i.key === 'worker-role')!.action).toBe('unchanged');

    policy.Statement.find((st) => st.Sid === 'InvokeProfileModel')!.Resource = '*';
    s = await session();
    observed = await observe(s.ctx);
    const items = await plan(s.ctx, observed);
    expect(items.find((i) => i.key === 'worker-role')!.action).toBe('update');
    await apply(s.ctx, observed, items, (_i, run) => run());
    expect(mutatingCommands(mocks)).toEqual(['iam:PutRolePolicy']);
  });
});
