import type { DiscountClients, DiscountTarget } from '../../client/batch-inference.js';
import { LOCAL_ACCOUNT, resourceNames } from '../../contract.js';
import { CliError } from '../../errors.js';
import { batchBucketName, roleArn } from '../../provision/arns.js';
import { LOCAL_CREDENTIALS } from './stack.js';
import { requireRunning } from './state.js';

/**
 * `batch --discount --local`: the running local stack's bucket and batch inference, in the shapes
 * of AWS (the bucket and role names `up --discount` gives), so the same client runs the same jobs.
 */
export async function localDiscountTarget(stack: string): Promise<{ target: DiscountTarget; clients: DiscountClients }> {
  const state = await requireRunning(stack);
  if (!state.batchEndpoint) {
    throw new CliError(`The local stack ${stack} has no batch inference: it answers with a Bedrock model (aws:<id>), and local batch jobs answer through the local model. Drop --discount to send the file in real time.`);
  }
  const names = resourceNames(stack);
  const config = { region: LOCAL_ACCOUNT.region, endpoint: state.batchEndpoint, credentials: LOCAL_CREDENTIALS };
  const [{ BedrockClient }, { S3Client }, { ServiceQuotasClient }, { batchLimits }] = await Promise.all([
    import('@aws-sdk/client-bedrock'), import('@aws-sdk/client-s3'), import('@aws-sdk/client-service-quotas'), import('../../operate/discount-quotas.js'),
  ]);
  const settings = state.settings;
  const bedrock = new BedrockClient(config);
  const serviceQuotas = new ServiceQuotasClient(config);
  return {
    target: {
      stack,
      bucket: batchBucketName({ account: LOCAL_ACCOUNT, names }),
      roleArn: roleArn({ account: LOCAL_ACCOUNT, names }, names.batchRole),
      model: state.model,
      quotas: () => batchLimits({ account: LOCAL_ACCOUNT, clients: { bedrock: async () => bedrock, serviceQuotas: async () => serviceQuotas } }, state.model),
      defaults: { maxTokens: settings?.maxTokens ?? 1024, ...(settings?.temperature !== undefined ? { temperature: settings.temperature } : {}) },
    },
    // Path-style, and checksums only where S3 requires them: the local bucket reads plain bodies.
    clients: { bedrock, s3: new S3Client({ ...config, forcePathStyle: true, requestChecksumCalculation: 'WHEN_REQUIRED', responseChecksumValidation: 'WHEN_REQUIRED' }) },
  };
}
