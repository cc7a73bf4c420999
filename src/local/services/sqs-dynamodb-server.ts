import { LOCAL_ACCOUNT } from '../../contract.js';
import { createServer } from 'node:http';
import { closeServer, listen, listenToKeep, readBody } from './http.js';
import { sqsActions, type SqsAction } from './sqs-actions.js';
import { moveTaskActions } from './sqs-move-tasks.js';
import { AwsError, dynamoError } from './sqs-wire.js';
import { SqsService, type JournalSink } from './sqs-service.js';

export type SqsCall = <T = Record<string, unknown>>(action: string, params: Record<string, unknown>) => Promise<T>;

export interface SqsServer {
  endpoint: string;
  service: SqsService;
  /** The same actions in-process, for the parts of the local stack that are AWS's own services in the cloud. */
  call: SqsCall;
  close: () => Promise<void>;
}

export interface SqsServerOptions {
  region?: string;
  accountId?: string;
  journal?: JournalSink;
  /** Runs before the server answers anything: replaying a journal into the service, say. */
  prepare?: (service: SqsService) => Promise<void> | void;
  /** DynamoDB's actions on the same endpoint (X-Amz-Target DynamoDB_20120810.<Action>): the local results store. */
  dynamodb?: Record<string, SqsAction>;
  /** The port wished for (an earlier run's, so clients keep their endpoint); another free one when it is taken. */
  preferredPort?: number;
}

const JSON_TYPE = 'application/x-amz-json-1.0';

function errorBody(err: AwsError) {
  return { __type: `${err.namespace}#${err.code}`, message: err.message };
}

const TARGETS = { sqs: 'AmazonSQS.', dynamodb: 'DynamoDB_20120810.' };

/**
 * The local target's AWS endpoint: SQS, our own implementation of the standard-queue semantics the
 * pipeline relies on (checked against moto by a differential test), and, when `dynamodb` is given,
 * the results table's DynamoDB calls, both in the AWS JSON protocol that the AWS SDKs, boto3 and
 * the AWS CLI speak. Listens on 127.0.0.1 only.
 */
export async function startSqsServer(options: SqsServerOptions = {}): Promise<SqsServer> {
  let endpoint = '';
  const service = new SqsService({ region: options.region ?? LOCAL_ACCOUNT.region, accountId: options.accountId ?? LOCAL_ACCOUNT.accountId, endpoint: () => endpoint, journal: options.journal });
  const actions: Record<string, SqsAction> = { ...sqsActions(service), ...moveTaskActions(service) };
  await options.prepare?.(service);

  const run = async (name: string, params: Record<string, unknown>, hungUp?: () => boolean) => {
    const action = actions[name];
    if (!action) throw new AwsError('UnsupportedOperation', `The local SQS server does not support ${name}.`, 'AWS.SimpleQueueService.UnsupportedOperation');
    return action(params, hungUp ? { hungUp } : undefined);
  };
  const runDynamo = async (name: string, params: Record<string, unknown>) => {
    const action = options.dynamodb?.[name];
    if (!action) throw dynamoError('UnknownOperationException', `The local target's DynamoDB answers ${Object.keys(options.dynamodb ?? {}).join(', ') || 'nothing'}, not ${name}.`, 'com.amazon.coral.service');
    return action(params);
  };

  const server = createServer(async (req, res) => {
    let hungUp = false;
    res.on('close', () => (hungUp = !res.writableEnded));
    const answer = (status: number, body: unknown, headers: Record<string, string> = {}) => {
      const text = JSON.stringify(body);
      res.writeHead(status, { 'content-type': JSON_TYPE, 'content-length': String(Buffer.byteLength(text)), 'x-amzn-requestid': crypto.randomUUID(), ...headers });
      res.end(text);
    };
    try {
      const target = String(req.headers['x-amz-target'] ?? '');
      const body = (await readBody(req))!.toString('utf8');
      const dynamo = target.startsWith(TARGETS.dynamodb);
      if (!dynamo && !target.startsWith(TARGETS.sqs)) {
        return answer(400, errorBody(new AwsError('InvalidAction', 'The local SQS server speaks the AWS JSON protocol (x-amz-target: AmazonSQS.<Action>), as current AWS SDKs, boto3 and the AWS CLI do; the older query protocol is not supported.')));
      }
      let params: Record<string, unknown>;
      try {
        params = body ? JSON.parse(body) as Record<string, unknown> : {};
      } catch {
        return answer(400, errorBody(new AwsError('SerializationException', 'The request body is not JSON.')));
      }
      if (dynamo) return answer(200, await runDynamo(target.slice(TARGETS.dynamodb.length), params));
      answer(200, await run(target.slice(TARGETS.sqs.length), params, () => hungUp));
    } catch (err) {
      if (err instanceof AwsError) return answer(err.status, errorBody(err), err.namespace === 'com.amazonaws.sqs' ? { 'x-amzn-query-error': `${err.queryCode};Sender` } : {});
      answer(500, { __type: 'com.amazonaws.sqs#InternalError', message: (err as Error).message }, { 'x-amzn-query-error': 'InternalError;Receiver' });
    }
  });
  server.keepAliveTimeout = 65_000;
  const port = await (options.preferredPort ? listen(server, options.preferredPort) : listenToKeep(server)).catch((err: NodeJS.ErrnoException) => {
    if (options.preferredPort && err.code === 'EADDRINUSE') return listenToKeep(server);
    throw err;
  });
  endpoint = `http://127.0.0.1:${port}`;

  const call: SqsCall = async <T>(action: string, params: Record<string, unknown>) => {
    try {
      return await run(action, params) as T;
    } catch (err) {
      // The same form as the protocol client's errors: the short name first.
      if (err instanceof AwsError) throw new Error(`${err.code}: ${err.message}`);
      throw err;
    }
  };

  return {
    endpoint,
    service,
    call,
    close: async () => {
      service.close();
      await closeServer(server);
    },
  };
}
