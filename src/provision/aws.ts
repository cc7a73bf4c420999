import { APIGatewayClient } from '@aws-sdk/client-api-gateway';
import { ApiGatewayV2Client } from '@aws-sdk/client-apigatewayv2';
import type { BedrockClient } from '@aws-sdk/client-bedrock';
import type { S3Client } from '@aws-sdk/client-s3';
import type { ServiceQuotasClient } from '@aws-sdk/client-service-quotas';
import { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import { CloudWatchLogsClient } from '@aws-sdk/client-cloudwatch-logs';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { IAMClient } from '@aws-sdk/client-iam';
import { LambdaClient } from '@aws-sdk/client-lambda';
import { SchedulerClient } from '@aws-sdk/client-scheduler';
import { SQSClient } from '@aws-sdk/client-sqs';
import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import { partitionOf } from '../contract.js';
import { CliError, credentialsMessage, errorMessage, isCredentialError, NO_ACCOUNT_HINT } from '../errors.js';
import { CallLog, instrument } from './call-log.js';

export interface AwsTarget {
  region?: string;
  profile?: string;
  /** One endpoint for every client (emulators); AWS_ENDPOINT_URL[_SERVICE] are honoured by the SDK itself. */
  endpointUrl?: string;
  /** Fixed credentials (the local target); else the default credential chain. */
  credentials?: { accessKeyId: string; secretAccessKey: string };
}

export interface Clients {
  /** Loaded on first use: only `up`'s model preflight needs the Bedrock control plane. */
  bedrock: () => Promise<BedrockClient>;
  /** Loaded on first use: the discount route's bucket (read by every look at the stack, used by `batch --discount`). */
  s3: () => Promise<S3Client>;
  /** Loaded on first use: `batch --discount` reads the model's batch inference quotas. */
  serviceQuotas: () => Promise<ServiceQuotasClient>;
  sqs: SQSClient;
  iam: IAMClient;
  lambda: LambdaClient;
  logs: CloudWatchLogsClient;
  /** The worker's metrics (status, top). */
  cloudwatch: CloudWatchClient;
  apigateway: APIGatewayClient;
  /** The WebSocket API (API Gateway v2). */
  apigatewayv2: ApiGatewayV2Client;
  dynamodb: DynamoDBClient;
  /** The governor's schedule (EventBridge Scheduler). */
  scheduler: SchedulerClient;
  sts: STSClient;
}

export function createClients(target: AwsTarget, log: CallLog): Clients {
  const config = {
    ...(target.region ? { region: target.region } : {}),
    ...(target.profile ? { profile: target.profile } : {}),
    ...(target.endpointUrl ? { endpoint: target.endpointUrl } : {}),
    ...(target.credentials ? { credentials: target.credentials } : {}),
  };
  let bedrock: Promise<BedrockClient> | undefined;
  let s3: Promise<S3Client> | undefined;
  let serviceQuotas: Promise<ServiceQuotasClient> | undefined;
  const made = new Map<string, unknown>();
  /** Each client is made, and instrumented, when a command first uses it: send makes two of six. */
  const lazy = <T extends { middlewareStack: unknown }>(service: string, make: () => T) => ({
    enumerable: true,
    get: () => {
      if (!made.has(service)) {
        const client = make();
        instrument(client, service, log);
        made.set(service, client);
      }
      return made.get(service) as T;
    },
  });
  return Object.defineProperties({
    bedrock: () => (bedrock ??= import('./bedrock-client.js').then((m) => m.createBedrockClient(config, log))),
    s3: () => (s3 ??= import('./s3-client.js').then((m) => m.createS3Client(config, log))),
    serviceQuotas: () => (serviceQuotas ??= import('./service-quotas-client.js').then((m) => m.createServiceQuotasClient(config, log))),
  }, {
    sqs: lazy('sqs', () => new SQSClient(config)),
    iam: lazy('iam', () => new IAMClient(config)),
    lambda: lazy('lambda', () => new LambdaClient(config)),
    logs: lazy('logs', () => new CloudWatchLogsClient(config)),
    cloudwatch: lazy('cloudwatch', () => new CloudWatchClient(config)),
    apigateway: lazy('apigateway', () => new APIGatewayClient(config)),
    apigatewayv2: lazy('apigatewayv2', () => new ApiGatewayV2Client(config)),
    dynamodb: lazy('dynamodb', () => new DynamoDBClient(config)),
    scheduler: lazy('scheduler', () => new SchedulerClient(config)),
    sts: lazy('sts', () => new STSClient(config)),
  }) as Clients;
}

export interface Account {
  region: string;
  accountId: string;
  partition: string;
}

/** The Region from --region, the environment or the profile, failing with one line when there is none. */
export async function resolveRegion(clients: Clients): Promise<string> {
  let region: string;
  try {
    region = await clients.sts.config.region();
  } catch {
    region = '';
  }
  if (!region) {
    throw new CliError(`No AWS region is set: pass --region, set AWS_REGION, or add "region = ..." to your profile in ~/.aws/config. ${NO_ACCOUNT_HINT}`);
  }
  return region;
}

/** The Region alone, for commands that find everything by name: the account id is unknown (empty). */
export async function regionOnly(clients: Clients): Promise<Account> {
  const region = await resolveRegion(clients);
  return { region, accountId: '', partition: partitionOf(region) };
}

/** Resolves the region and the caller's account, failing with one line when either is missing. */
export async function resolveAccount(clients: Clients, target: AwsTarget): Promise<Account> {
  const region = await resolveRegion(clients);
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
