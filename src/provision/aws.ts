import { APIGatewayClient } from '@aws-sdk/client-api-gateway';
import type { BedrockClient } from '@aws-sdk/client-bedrock';
import { CloudWatchLogsClient } from '@aws-sdk/client-cloudwatch-logs';
import { IAMClient } from '@aws-sdk/client-iam';
import { LambdaClient } from '@aws-sdk/client-lambda';
import { SQSClient } from '@aws-sdk/client-sqs';
import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import { CliError, credentialsMessage, errorMessage, isCredentialError } from '../errors.js';

export interface AwsTarget {
  region?: string;
  profile?: string;
  /** One endpoint for every client (emulators); AWS_ENDPOINT_URL[_SERVICE] are honoured by the SDK itself. */
  endpointUrl?: string;
  /** Fixed credentials (the local target); else the default credential chain. */
  credentials?: { accessKeyId: string; secretAccessKey: string };
}

/** Counts the API calls a command makes, split into reads and mutations (for `--json` stats and benchmarks). */
export class CallLog {
  readonly calls: string[] = [];
  record(service: string, command: string) {
    this.calls.push(`${service}:${command.replace(/Command$/, '')}`);
  }
  get reads() {
    return this.calls.filter(isReadCall);
  }
  get mutations() {
    return this.calls.filter((c) => !isReadCall(c));
  }
}

export function isReadCall(call: string): boolean {
  return /:(Get|List|Describe)/.test(call);
}

export interface Clients {
  /** Loaded on first use: only `up`'s model preflight needs the Bedrock control plane. */
  bedrock: () => Promise<BedrockClient>;
  sqs: SQSClient;
  iam: IAMClient;
  lambda: LambdaClient;
  logs: CloudWatchLogsClient;
  apigateway: APIGatewayClient;
  sts: STSClient;
}

type AnyClient = Exclude<Clients[keyof Clients], Clients['bedrock']> | BedrockClient;

/** Records every call in `log` and tags every error with the IAM-style action that failed. */
function instrument(client: AnyClient, service: string, log: CallLog) {
  // The SDK's middleware stack types differ per client; the handler shape is the same.
  (client.middlewareStack as unknown as { add: (mw: unknown, opts: unknown) => void }).add(
    (next: (args: unknown) => Promise<unknown>, context: { commandName?: string }) => async (args: unknown) => {
      const command = context.commandName ?? 'Unknown';
      log.record(service, command);
      try {
        return await next(args);
      } catch (err) {
        if (err && typeof err === 'object') (err as { $action?: string }).$action = `${service}:${command.replace(/Command$/, '')}`;
        throw err;
      }
    },
    { step: 'initialize', name: 'bedrockQueueCallLog' },
  );
}

export function createClients(target: AwsTarget, log: CallLog): Clients {
  const config = {
    ...(target.region ? { region: target.region } : {}),
    ...(target.profile ? { profile: target.profile } : {}),
    ...(target.endpointUrl ? { endpoint: target.endpointUrl } : {}),
    ...(target.credentials ? { credentials: target.credentials } : {}),
  };
  let bedrock: Promise<BedrockClient> | undefined;
  const clients: Clients = {
    bedrock: () => (bedrock ??= import('@aws-sdk/client-bedrock').then(({ BedrockClient }) => {
      const client = new BedrockClient(config);
      instrument(client, 'bedrock', log);
      return client;
    })),
    sqs: new SQSClient(config),
    iam: new IAMClient(config),
    lambda: new LambdaClient(config),
    logs: new CloudWatchLogsClient(config),
    apigateway: new APIGatewayClient(config),
    sts: new STSClient(config),
  };
  const services = { sqs: 'sqs', iam: 'iam', lambda: 'lambda', logs: 'logs', apigateway: 'apigateway', sts: 'sts' } as const;
  for (const key of Object.keys(services) as (keyof typeof services)[]) instrument(clients[key], services[key], log);
  return clients;
}

export interface Account {
  region: string;
  accountId: string;
  partition: string;
}

/** Resolves the region and the caller's account, failing with one line when either is missing. */
export async function resolveAccount(clients: Clients, target: AwsTarget): Promise<Account> {
  let region: string;
  try {
    region = await clients.sts.config.region();
  } catch {
    region = '';
  }
  if (!region) {
    throw new CliError('No AWS region is set: pass --region, set AWS_REGION, or add "region = ..." to your profile in ~/.aws/config.');
  }
  let identity;
  try {
    identity = await clients.sts.send(new GetCallerIdentityCommand({}));
  } catch (err) {
    if (isCredentialError(err)) throw new CliError(credentialsMessage(errorMessage(err).split('\n')[0]!, target.profile ?? process.env.AWS_PROFILE));
    throw err;
  }
  const partition = identity.Arn?.split(':')[1] ?? 'aws';
  return { region, accountId: identity.Account!, partition };
}
