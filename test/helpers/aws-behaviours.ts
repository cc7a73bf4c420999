/**
 * Real AWS behaviours for the proxy (aws-facts.md, "Learned from a review"), each on a compressed
 * clock: what lasts seconds to a minute on AWS lasts `window` milliseconds here.
 */
import { awsError, json, type AwsAnswer, type AwsRequest, type Behaviour, type Recorded } from './aws-proxy.js';

const queueName = (req: AwsRequest) => String(req.params.QueueName ?? String(req.params.QueueUrl ?? '').split('/').pop());
const since = (history: Recorded[], match: (r: Recorded) => boolean) => {
  const found = [...history].reverse().find((r) => match(r) && r.answer.status < 300);
  return found ? Date.now() - found.at : Infinity;
};
const functionRoute = /^\/2015-03-31\/functions\/([^/]+)(\/configuration|\/code)?$/;

/** Queues deleted through the proxy, for `window` ms after: what AWS still shows of them. */
function recentDeletions(window: number) {
  const deletedAt = new Map<string, { at: number; url: string }>();
  const recent = (d: { at: number } | undefined) => !!d && Date.now() - d.at < window;
  return {
    /** Notes a DeleteQueue; then the recent deletion of the request's queue, if any. */
    of(req: AwsRequest) {
      if (req.operation === 'DeleteQueue') deletedAt.set(queueName(req), { at: Date.now(), url: String(req.params.QueueUrl) });
      const deleted = deletedAt.get(queueName(req));
      return recent(deleted) ? deleted : undefined;
    },
    urls: () => [...deletedAt.values()].filter(recent).map((d) => d.url),
  };
}

/** After DeleteQueue: CreateQueue of the name fails QueueDeletedRecently, and ListQueues still lists it. */
export function queueDeletedRecently(window: number): Behaviour {
  const deletions = recentDeletions(window);
  return {
    name: 'QueueDeletedRecently',
    respond(req) {
      if (req.service !== 'sqs') return undefined;
      if (deletions.of(req) && req.operation === 'CreateQueue') {
        return awsError.sqs('QueueDeletedRecently', 'You must wait 60 seconds after deleting a queue before you can create another with the same name.');
      }
      return undefined;
    },
    rewrite(req, answer) {
      if (req.service !== 'sqs' || req.operation !== 'ListQueues' || answer.status !== 200) return undefined;
      const listed = (JSON.parse(answer.body || '{}') as { QueueUrls?: string[] }).QueueUrls ?? [];
      const prefix = String(req.params.QueueNamePrefix ?? '');
      const extra = deletions.urls().filter((u) => u.split('/').pop()!.startsWith(prefix) && !listed.includes(u));
      return extra.length ? json({ QueueUrls: [...listed, ...extra] }) : undefined;
    },
  };
}

/** After DeleteQueue, reads of the name still find it for `window` (eventual consistency): GetQueueUrl answers its URL. */
export function deletedQueueLingers(window: number): Behaviour {
  const deletions = recentDeletions(window);
  return {
    name: 'DeletedQueueLingers',
    respond(req) {
      if (req.service !== 'sqs') return undefined;
      const deleted = deletions.of(req);
      return deleted && req.operation === 'GetQueueUrl' ? json({ QueueUrl: deleted.url }) : undefined;
    },
  };
}

/**
 * A queue answers about a second after CreateQueue: reads say QueueDoesNotExist for `window`, and
 * a RedrivePolicy naming it fails "Dead letter target does not exist" for `redriveWindow`.
 */
export function newQueueNotReady(window: number, redriveWindow: number): Behaviour {
  const createdAt = new Map<string, number>();
  return {
    name: 'NewQueueNotReady',
    respond(req) {
      if (req.service !== 'sqs') return undefined;
      const young = (name: string, ms = window) => Date.now() - (createdAt.get(name) ?? 0) < ms;
      if (req.operation === 'CreateQueue') {
        const redrive = (req.params.Attributes as Record<string, string> | undefined)?.RedrivePolicy;
        const dlq = redrive ? String((JSON.parse(redrive) as { deadLetterTargetArn: string }).deadLetterTargetArn).split(':').pop()! : undefined;
        if (dlq && young(dlq, redriveWindow)) return awsError.sqs('InvalidAttributeValue', `Value ${redrive} for parameter RedrivePolicy is invalid. Reason: Dead letter target does not exist.`);
        return undefined;
      }
      if (['GetQueueAttributes', 'GetQueueUrl'].includes(req.operation) && young(queueName(req))) {
        return awsError.sqs('QueueDoesNotExist', 'The specified queue does not exist.');
      }
      return undefined;
    },
    rewrite(req, answer) {
      if (req.service === 'sqs' && req.operation === 'CreateQueue' && answer.status === 200 && !createdAt.has(queueName(req))) createdAt.set(queueName(req), Date.now());
      return undefined;
    },
  };
}

/**
 * IAM propagation: for `window` ms after the worker role is created or changed Lambda cannot
 * assume it; and a mapping cannot yet read the queue with it until `mappingWindow` ms after the
 * function that runs as the role could first be created.
 */
export function iamPropagation(window: number, mappingWindow: number, workerRole: string): Behaviour {
  const roleChange = (r: Recorded) => r.service === 'iam' && ['CreateRole', 'PutRolePolicy'].includes(r.operation) && r.params.RoleName === workerRole;
  const functionCreated = (r: Recorded) => r.service === 'lambda' && r.method === 'POST' && r.path === '/2015-03-31/functions';
  return {
    name: 'IamPropagation',
    respond(req, history) {
      if (req.service !== 'lambda' || req.method !== 'POST') return undefined;
      const age = since(history, roleChange);
      if (req.path === '/2015-03-31/functions' && age < window) return awsError.rest('InvalidParameterValueException', 'The role defined for the function cannot be assumed by Lambda.', 400);
      if (/^\/2015-03-31\/event-source-mappings\/?$/.test(req.path) && Math.min(age, since(history, functionCreated)) < mappingWindow) {
        return awsError.rest('InvalidParameterValueException', 'The provided execution role does not have permissions to call ReceiveMessage on SQS', 400);
      }
      return undefined;
    },
  };
}

/** A new or updated function is Pending / InProgress for a while; updates meanwhile conflict. */
export function functionSettling(window: number): Behaviour {
  let changedAt = 0;
  let created = false;
  const busy = () => Date.now() - changedAt < window;
  return {
    name: 'FunctionSettling',
    respond(req) {
      if (req.service !== 'lambda' || req.method !== 'PUT' || !functionRoute.test(req.path) || !busy()) return undefined;
      return awsError.rest('ResourceConflictException', `The operation cannot be performed at this time. An update is in progress for resource: ${req.path.split('/')[3]}`, 409);
    },
    rewrite(req, answer) {
      if (req.service !== 'lambda' || answer.status >= 300) return undefined;
      const route = functionRoute.exec(req.path);
      if ((req.method === 'POST' && req.path === '/2015-03-31/functions') || (req.method === 'PUT' && route)) {
        changedAt = Date.now();
        created = req.method === 'POST';
        return undefined;
      }
      if (req.method === 'GET' && route?.[2] === '/configuration' && busy()) {
        const config = JSON.parse(answer.body) as Record<string, unknown>;
        return json({ ...config, ...(created ? { State: 'Pending' } : {}), LastUpdateStatus: 'InProgress' });
      }
      return undefined;
    },
  };
}

/** API Gateway's control-plane rate limits: the first of each of these calls is refused with 429. */
export function apiGatewayThrottling(): Behaviour {
  const throttled = new Set<string>();
  return {
    name: 'TooManyRequests',
    respond(req) {
      if (req.service !== 'apigateway') return undefined;
      const limited = (req.method === 'DELETE' && /^\/restapis\/[^/]+$/.test(req.path)) || (req.method === 'POST' && /\/deployments$/.test(req.path));
      if (!limited || throttled.has(req.operation)) return undefined;
      throttled.add(req.operation);
      return awsError.rest('TooManyRequestsException', 'Too Many Requests', 429);
    },
  };
}

/** GetFunction for a caller without lambda:ListTags: no Tags, a TagsError instead. */
export function getFunctionWithoutListTags(): Behaviour {
  return {
    name: 'TagsError',
    rewrite(req, answer) {
      if (req.service !== 'lambda' || req.method !== 'GET' || !/^\/2015-03-31\/functions\/[^/]+$/.test(req.path) || answer.status !== 200) return undefined;
      const { Tags: _dropped, ...rest } = JSON.parse(answer.body) as Record<string, unknown>;
      return json({ ...rest, TagsError: { ErrorCode: 'AccessDeniedException', Message: 'User is not authorized to perform: lambda:ListTags' } });
    },
  };
}

/** A function whose creation failed: GetFunctionConfiguration says Failed, with Lambda's reason. */
export function functionFailed(reasonCode: string, reason: string): Behaviour {
  return {
    name: 'FunctionFailed',
    rewrite(req, answer) {
      if (req.service !== 'lambda' || req.method !== 'GET' || !/\/configuration$/.test(req.path) || answer.status !== 200) return undefined;
      return json({ ...JSON.parse(answer.body) as object, State: 'Failed', StateReasonCode: reasonCode, StateReason: reason });
    },
  };
}

/** The Bedrock control plane, which moto lacks, answering the preflight as AWS does for a usable profile. */
export function bedrockControlPlane(account: string, overrides: { availability?: Record<string, unknown> } = {}): Behaviour {
  const answers: Record<string, (region: string, id: string) => AwsAnswer> = {
    'inference-profiles': (region, id) => json({
      inferenceProfileId: id, inferenceProfileName: id, status: 'ACTIVE', type: 'SYSTEM_DEFINED',
      inferenceProfileArn: `arn:aws:bedrock:${region}:${account}:inference-profile/${id}`,
      models: [`arn:aws:bedrock:${region}::foundation-model/${id.replace(/^[a-z]+\./, '')}`, `arn:aws:bedrock:::foundation-model/${id.replace(/^[a-z]+\./, '')}`].map((modelArn) => ({ modelArn })),
    }),
    'foundation-models': (region, id) => json({ modelDetails: { modelId: id, modelArn: `arn:aws:bedrock:${region}::foundation-model/${id}`, inferenceTypesSupported: ['INFERENCE_PROFILE'], modelLifecycle: { status: 'ACTIVE' } } }),
    'foundation-model-availability': (_region, id) => json({
      modelId: id, authorizationStatus: 'AUTHORIZED', entitlementAvailability: 'AVAILABLE', regionAvailability: 'AVAILABLE', agreementAvailability: { status: 'AVAILABLE' },
      ...overrides.availability,
    }),
  };
  return {
    name: 'BedrockControlPlane',
    respond(req) {
      const [, kind, id] = /^\/([a-z-]+)\/(.+)$/.exec(req.path) ?? [];
      return req.service === 'bedrock' && kind && answers[kind] ? answers[kind](req.region, decodeURIComponent(id!)) : undefined;
    },
  };
}

/**
 * A deployment to an existing stage keeps the stage's settings on AWS (CreateDeployment points the
 * stage at the new deployment); moto replaces the stage and drops its method settings. Reads of
 * the stage through the proxy show what AWS would: the method settings last written.
 */
export function deploymentKeepsStageSettings(): Behaviour {
  const kept = new Map<string, unknown>();
  const stageRoute = /^\/restapis\/([^/]+)\/stages\/([^/]+)$/;
  return {
    name: 'DeploymentKeepsStageSettings',
    rewrite(req, answer) {
      const route = stageRoute.exec(req.path);
      if (req.service !== 'apigateway' || !route || answer.status !== 200) return undefined;
      const key = `${route[1]}/${route[2]}`;
      const stage = JSON.parse(answer.body) as { methodSettings?: Record<string, unknown> };
      const settings = stage.methodSettings ?? {};
      if (req.method === 'PATCH' || Object.keys(settings).length) {
        kept.set(key, settings);
        return undefined;
      }
      return req.method === 'GET' && kept.has(key) ? json({ ...stage, methodSettings: kept.get(key) }) : undefined;
    },
  };
}
