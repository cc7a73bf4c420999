/**
 * The WebSocket API on AWS: the exact API Gateway v2 calls `up` makes (aws-sdk-client-mock, with
 * an account the calls change as AWS does), its convergence and repair, and its mapping templates
 * rendered by an independent Velocity engine with API Gateway's context (test/helpers/vtl.ts):
 * each route's reply is the frame the local target gives.
 */
import {
  CreateApiCommand, CreateDeploymentCommand, CreateIntegrationCommand, CreateIntegrationResponseCommand, CreateModelCommand, CreateRouteCommand, CreateRouteResponseCommand, CreateStageCommand,
} from '@aws-sdk/client-apigatewayv2';
import { UpdateUsagePlanCommand } from '@aws-sdk/client-api-gateway';
import { UpdateFunctionConfigurationCommand } from '@aws-sdk/client-lambda';
import { PutRolePolicyCommand } from '@aws-sdk/client-iam';
import { describe, expect, it } from 'vitest';
import { RESULT_ITEM } from '../../src/contract.js';
import { INVOKE_FRAME_SCHEMA, SUBSCRIBE_FRAME_SCHEMA, subscribeReply, subscribeUpdate } from '../../src/stream-contract.js';
import { ACCEPTED_FRAME_TEMPLATE, INVOKE_TEMPLATE, SUBSCRIBED_FRAME_TEMPLATE, SUBSCRIBE_TEMPLATE } from '../../src/provision/websocket-api-shapes.js';
import { ACCOUNT, REGION, TAGS, convergedAccount, mocksPerTest, mutatingCommands, runUp } from '../helpers/fake-aws.js';
import { renderTemplate } from '../helpers/vtl.js';

const prepare = mocksPerTest();
const inputs = <T>(calls: { args: [{ input: T }] }[]) => calls.map((c) => c.args[0].input);
const ROLE = `arn:aws:iam::${ACCOUNT}:role/bedrock-queue/demo-api`;

/** A stack as the version before the WebSocket API left it: no API, its stage, grants or endpoint. */
function deployedBeforeWebSockets() {
  const state = structuredClone(convergedAccount());
  state.websocketApis = [];
  const statements = (role: string) => (state.roles[role]!.policy as { Statement: { Sid: string; Action: unknown }[] }).Statement;
  statements('demo-worker').splice(statements('demo-worker').findIndex((s) => s.Sid === 'PushToListeners'), 1);
  statements('demo-api').find((s) => s.Sid === 'ReadResults')!.Action = 'dynamodb:GetItem';
  delete state.functions['demo-worker']!.config.Environment!.Variables!.BQ_CONNECTIONS_ENDPOINT;
  state.usagePlans[0]!.apiStages = [{ apiId: 'api123', stage: 'prod' }];
  return state;
}

describe('up builds the WebSocket API', () => {
  it('with the key checked on $connect, a model per route, SQS and DynamoDB integrations as the API role, and a throttled stage deployed once they are all there', async () => {
    const state = convergedAccount();
    state.websocketApis = [];
    const m = prepare(state);
    await runUp();
    expect(inputs(m.apigatewayv2.commandCalls(CreateApiCommand))).toEqual([{
      Name: 'demo-ws', ProtocolType: 'WEBSOCKET', Description: expect.stringContaining('demo'),
      RouteSelectionExpression: '$request.body.action', ApiKeySelectionExpression: '$request.header.x-api-key', Tags: TAGS,
    }]);
    expect(inputs(m.apigatewayv2.commandCalls(CreateModelCommand)).map((i) => [i.Name, i.ContentType, JSON.parse(i.Schema!)])).toEqual([
      ['InvokeFrame', 'application/json', INVOKE_FRAME_SCHEMA], ['SubscribeFrame', 'application/json', SUBSCRIBE_FRAME_SCHEMA],
    ]);
    const created = m.apigatewayv2.commandCalls(CreateIntegrationCommand);
    const [connect, invoke, subscribe] = inputs(created);
    const [connectId, invokeId, subscribeId] = await Promise.all(created.map(async (c) => ((await c.returnValue) as { IntegrationId: string }).IntegrationId));
    expect(connect).toEqual({ ApiId: 'ws1', IntegrationType: 'MOCK', RequestTemplates: { $default: '{"statusCode": 200}' }, TemplateSelectionExpression: '\\$default', PassthroughBehavior: 'WHEN_NO_MATCH' });
    expect(invoke).toEqual({
      ApiId: 'ws1', IntegrationType: 'AWS', IntegrationMethod: 'POST', IntegrationUri: `arn:aws:apigateway:${REGION}:sqs:path/${ACCOUNT}/demo-requests`, CredentialsArn: ROLE,
      RequestParameters: { 'integration.request.header.Content-Type': "'application/x-www-form-urlencoded'", 'integration.request.header.Accept': "'application/xml'" },
      RequestTemplates: { $default: INVOKE_TEMPLATE }, TemplateSelectionExpression: '\\$default', PassthroughBehavior: 'NEVER',
    });
    expect(subscribe).toEqual({
      ApiId: 'ws1', IntegrationType: 'AWS', IntegrationMethod: 'POST', IntegrationUri: `arn:aws:apigateway:${REGION}:dynamodb:action/UpdateItem`, CredentialsArn: ROLE,
      RequestTemplates: { $default: SUBSCRIBE_TEMPLATE('demo-results', 604800) }, TemplateSelectionExpression: '\\$default', PassthroughBehavior: 'NEVER',
    });
    // A non-proxy integration needs an integration response, even $connect's, which says nothing back.
    expect(inputs(m.apigatewayv2.commandCalls(CreateIntegrationResponseCommand)).map((i) => [i.IntegrationId, i.IntegrationResponseKey, i.ResponseTemplates])).toEqual([
      [connectId, '$default', undefined], [invokeId, '$default', { $default: ACCEPTED_FRAME_TEMPLATE }], [subscribeId, '$default', { $default: SUBSCRIBED_FRAME_TEMPLATE }],
    ]);
    expect(inputs(m.apigatewayv2.commandCalls(CreateRouteCommand))).toEqual([
      { ApiId: 'ws1', RouteKey: '$connect', ApiKeyRequired: true, AuthorizationType: 'NONE', Target: `integrations/${connectId}` },
      { ApiId: 'ws1', RouteKey: 'invoke', ApiKeyRequired: false, AuthorizationType: 'NONE', ModelSelectionExpression: '$request.body.action', RequestModels: { invoke: 'InvokeFrame' }, RouteResponseSelectionExpression: '$default', Target: `integrations/${invokeId}` },
      { ApiId: 'ws1', RouteKey: 'subscribe', ApiKeyRequired: false, AuthorizationType: 'NONE', ModelSelectionExpression: '$request.body.action', RequestModels: { subscribe: 'SubscribeFrame' }, RouteResponseSelectionExpression: '$default', Target: `integrations/${subscribeId}` },
    ]);
    expect(inputs(m.apigatewayv2.commandCalls(CreateRouteResponseCommand)).map((i) => i.RouteResponseKey)).toEqual(['$default', '$default']);
    expect(inputs(m.apigatewayv2.commandCalls(CreateStageCommand))).toEqual([{ ApiId: 'ws1', StageName: 'prod', DefaultRouteSettings: { ThrottlingRateLimit: 50, ThrottlingBurstLimit: 100 }, Tags: TAGS }]);
    // Deployed last, to the stage, once every route is there (AutoDeploy is for HTTP APIs only).
    expect(inputs(m.apigatewayv2.commandCalls(CreateDeploymentCommand))).toEqual([{ ApiId: 'ws1', StageName: 'prod', Description: 'bedrock-queue up (demo)' }]);
    expect(mutatingCommands(m).filter((c) => c.startsWith('apigatewayv2:')).slice(-2)).toEqual(['apigatewayv2:CreateStage', 'apigatewayv2:CreateDeployment']);
  });

  it('on a stack deployed before it had one: the API, then the worker may post to it, knows where, and the key reaches its stage', async () => {
    const m = prepare(deployedBeforeWebSockets());
    const { items } = await runUp();
    expect(items.filter((i) => i.action !== 'unchanged').map((i) => [i.key, i.action, i.changes.map((c) => c.field)])).toEqual([
      ['api-role', 'update', ['permissions']],
      ['websocket-api', 'create', []],
      ['worker-role', 'update', ['permissions']],
      ['function', 'update', ['Environment']],
      ['usage-plan', 'update', ['apiStages']],
    ]);
    expect(JSON.parse(inputs(m.iam.commandCalls(PutRolePolicyCommand))[0]!.PolicyDocument!).Statement[1].Action).toEqual(['dynamodb:GetItem', 'dynamodb:UpdateItem']);
    const policy = JSON.parse(inputs(m.iam.commandCalls(PutRolePolicyCommand))[1]!.PolicyDocument!) as { Statement: { Sid: string; Action: string; Resource: string }[] };
    expect(policy.Statement.find((s) => s.Sid === 'PushToListeners')).toEqual({ Sid: 'PushToListeners', Effect: 'Allow', Action: 'execute-api:ManageConnections', Resource: `arn:aws:execute-api:${REGION}:${ACCOUNT}:ws1/prod/POST/@connections/*` });
    expect(inputs(m.lambda.commandCalls(UpdateFunctionConfigurationCommand))[0]!.Environment!.Variables!.BQ_CONNECTIONS_ENDPOINT).toBe(`https://ws1.execute-api.${REGION}.amazonaws.com/prod`);
    expect(inputs(m.apigateway.commandCalls(UpdateUsagePlanCommand))).toEqual([{ usagePlanId: 'plan1', patchOperations: [{ op: 'add', path: '/apiStages', value: 'ws1:prod' }] }]);
  });

  it('opens $connect with --no-api-key', async () => {
    const state = convergedAccount();
    state.websocketApis = [];
    const m = prepare(state);
    await runUp({ apiKeyRequired: false });
    expect(inputs(m.apigatewayv2.commandCalls(CreateRouteCommand))[0]).toMatchObject({ RouteKey: '$connect', ApiKeyRequired: false });
  });
});

describe('up repairs the WebSocket API', () => {
  it('a route whose template was changed by hand: its integration, response and route are put back, nothing else', async () => {
    const state = convergedAccount();
    state.websocketApis[0]!.integrations[1]!.RequestTemplates = { $default: 'Action=SendMessage&MessageBody=$input.body' };
    const m = prepare(state);
    const { items } = await runUp();
    expect(items.find((i) => i.key === 'websocket-api')!.changes.map((c) => c.field)).toEqual(['route invoke.integration.RequestTemplates.$default', 'stage prod.deployment']);
    expect(mutatingCommands(m)).toEqual(['apigatewayv2:UpdateIntegration', 'apigatewayv2:UpdateIntegrationResponse', 'apigatewayv2:UpdateRoute', 'apigatewayv2:CreateDeployment']);
    expect(state.websocketApis[0]!.integrations[1]!.RequestTemplates).toEqual({ $default: INVOKE_TEMPLATE });
    // Converged again: a second up writes nothing.
    const again = prepare(state);
    await runUp();
    expect(mutatingCommands(again)).toEqual([]);
  });

  it('a stage with no deployment is deployed, and nothing else changes', async () => {
    const state = convergedAccount();
    delete state.websocketApis[0]!.stage!.DeploymentId;
    const m = prepare(state);
    await runUp();
    expect(mutatingCommands(m)).toEqual(['apigatewayv2:CreateDeployment']);
  });

  it('a changed throttle is set back on the stage alone; a lost route response is created again', async () => {
    const state = convergedAccount();
    state.websocketApis[0]!.stage!.DefaultRouteSettings = { ThrottlingRateLimit: 5000, ThrottlingBurstLimit: 100 };
    state.websocketApis[0]!.routes[2]!.responses = [];
    const m = prepare(state);
    await runUp();
    expect(mutatingCommands(m)).toEqual(['apigatewayv2:UpdateIntegration', 'apigatewayv2:UpdateIntegrationResponse', 'apigatewayv2:UpdateRoute', 'apigatewayv2:CreateRouteResponse', 'apigatewayv2:UpdateStage', 'apigatewayv2:CreateDeployment']);
    expect(state.websocketApis[0]!.stage!.DefaultRouteSettings).toEqual({ ThrottlingRateLimit: 50, ThrottlingBurstLimit: 100 });
  });

  it('treats a WebSocket API of our name tagged for another stack as not ours, before any change', async () => {
    const state = convergedAccount();
    state.websocketApis[0]!.Tags = { 'bedrock-queue:stack': 'other' };
    const m = prepare(state);
    await expect(runUp()).rejects.toThrow(/API Gateway WebSocket API demo-ws exists without the tag bedrock-queue:stack=demo/);
    expect(mutatingCommands(m)).toEqual([]);
  });
});

describe('the WebSocket API\'s templates', () => {
  const ID = '2c9de0d2-25c7-4397-99d4-5b9d4d70fcfe';
  const MESSAGE_ID = '0a5231c7-8bff-4955-be2e-8dc7c50a25fa';
  const CONNECTION = 'L0SM9cOFvHcCIhw=';
  const form = (body: string) => Object.fromEntries(new URLSearchParams(body));
  const entry = (field: string) => `SendMessageBatchRequestEntry.1.${field}`;
  const answer = (id: string) => `<?xml version="1.0"?><SendMessageBatchResponse xmlns="http://queue.amazonaws.com/doc/2012-11-05/"><SendMessageBatchResult><SendMessageBatchResultEntry><Id>${id}</Id><MessageId>${MESSAGE_ID}</MessageId><MD5OfMessageBody>0e024d309850c78cba5eabbeff7cae71</MD5OfMessageBody></SendMessageBatchResultEntry></SendMessageBatchResult></SendMessageBatchResponse>`;

  it('invoke: the frame queued byte for byte with its connection, and the client\'s id (lowered) as entry Id and attribute', () => {
    const body = `{"action": "invoke", "id": "${ID.toUpperCase()}", "prompt": "a & b = c + d 'q' é 🚀"}`;
    expect(form(renderTemplate(INVOKE_TEMPLATE, { body, requestId: 'Gto5mE7jDoEFj7Q=', connectionId: CONNECTION }).body)).toEqual({
      Action: 'SendMessageBatch', [entry('Id')]: ID, [entry('MessageBody')]: body,
      [entry('MessageAttribute.1.Name')]: 'bq-connection-id', [entry('MessageAttribute.1.Value.DataType')]: 'String', [entry('MessageAttribute.1.Value.StringValue')]: CONNECTION,
      [entry('MessageAttribute.2.Name')]: 'bq-request-id', [entry('MessageAttribute.2.Value.DataType')]: 'String', [entry('MessageAttribute.2.Value.StringValue')]: ID,
    });
  });

  it('invoke without an id: a valid entry Id from the request id, no id attribute, and the answer names the message id the worker will use', () => {
    const sent = form(renderTemplate(INVOKE_TEMPLATE, { body: '{"action": "invoke", "prompt": "hi"}', requestId: 'Gto5mE7jDoEFj7Q=', connectionId: CONNECTION }).body);
    expect(sent[entry('Id')]).toBe('Gto5mE7jDoEFj7Q');
    expect(sent[entry('Id')]).toMatch(/^[A-Za-z0-9_-]{1,80}$/);
    expect(Object.keys(sent).filter((k) => k.includes('MessageAttribute.2'))).toEqual([]);
    expect(JSON.parse(renderTemplate(ACCEPTED_FRAME_TEMPLATE, { body: answer('Gto5mE7jDoEFj7Q') }).body)).toEqual({ type: 'accepted', id: MESSAGE_ID });
    expect(JSON.parse(renderTemplate(ACCEPTED_FRAME_TEMPLATE, { body: answer(ID) }).body)).toEqual({ type: 'accepted', id: ID });
  });

  it('invoke refused by SQS: API Gateway\'s own failure frame, with this connection\'s id only', () => {
    const refused = '<ErrorResponse><Error><Type>Sender</Type><Code>AccessDenied</Code><Message>no</Message></Error></ErrorResponse>';
    expect(JSON.parse(renderTemplate(ACCEPTED_FRAME_TEMPLATE, { body: refused, requestId: 'r1', connectionId: CONNECTION }).body)).toEqual({ message: 'Internal server error', connectionId: CONNECTION, requestId: 'r1' });
  });

  it('subscribe: exactly stream-contract\'s UpdateItem, for the lowered id and this connection', () => {
    const now = 1_764_720_000_000;
    const rendered = renderTemplate(SUBSCRIBE_TEMPLATE('demo-results', 604800), { body: { action: 'subscribe', id: ID.toUpperCase() }, connectionId: CONNECTION, requestTimeEpoch: now });
    expect(JSON.parse(rendered.body)).toEqual(subscribeUpdate('demo-results', ID, CONNECTION, now / 1000 + 604800));
  });

  it('subscribe\'s reply: the record as the local target sends it (inline, or where to GET it), `subscribed` before it, never another listener', () => {
    const item = (record?: string, expiresAt = 1_900_000_000) => ({ Attributes: {
      [RESULT_ITEM.key]: { S: ID }, [RESULT_ITEM.expiresAt]: { N: String(expiresAt) }, [RESULT_ITEM.listeners]: { SS: ['another-connection=', CONNECTION] },
      ...(record ? { [RESULT_ITEM.record]: { S: record } } : {}),
    } });
    const reply = (body: unknown) => renderTemplate(SUBSCRIBED_FRAME_TEMPLATE, { body, connectionId: CONNECTION, requestTimeEpoch: 1_764_720_000_000 }).body;
    const small = JSON.stringify({ id: ID, status: 'ok', output: 'é 🚀 "quoted"', model: 'm', latencyMs: 1, attempt: 1, completedAt: '2026-12-03T00:00:00.000Z' });
    const large = JSON.stringify({ id: ID, status: 'ok', output: 'x'.repeat(60_000) });
    expect(reply(item(small))).toBe(subscribeReply(ID, small));
    expect(JSON.parse(reply(item(large)))).toEqual({ type: 'result', id: ID, location: `results/${ID}` });
    expect(reply(item(large))).toBe(subscribeReply(ID, large));
    expect(JSON.parse(reply(item()))).toEqual({ type: 'subscribed', id: ID });
    expect(JSON.parse(reply(item(small, 1_700_000_000)))).toEqual({ type: 'subscribed', id: ID });
    for (const body of [item(small), item(large), item()]) expect(reply(body)).not.toContain('another-connection');
    expect(JSON.parse(reply({ __type: 'com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException', message: 'slow down' }))).toMatchObject({ message: 'Internal server error', connectionId: CONNECTION });
  });
});
