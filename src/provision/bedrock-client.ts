import { BedrockClient, type BedrockClientConfig } from '@aws-sdk/client-bedrock';
import { instrument, type CallLog } from './call-log.js';

/** The Bedrock control-plane client, in a module of its own: only `up`'s model check loads it. */
export function createBedrockClient(config: BedrockClientConfig, log: CallLog): BedrockClient {
  const client = new BedrockClient(config);
  instrument(client, 'bedrock', log);
  return client;
}
