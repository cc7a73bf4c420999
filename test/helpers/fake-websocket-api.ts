/**
 * API Gateway v2 (the WebSocket API) for unit tests: a small account of APIs that the Create and
 * Update calls change as AWS does, so that a second `up` can be shown to write nothing, with AWS's
 * error for an API that is gone (NotFoundException).
 */
import {
  ApiGatewayV2Client,
  CreateApiCommand,
  CreateDeploymentCommand,
  CreateIntegrationCommand,
  CreateIntegrationResponseCommand,
  CreateModelCommand,
  CreateRouteCommand,
  CreateRouteResponseCommand,
  CreateStageCommand,
  DeleteApiCommand,
  GetApisCommand,
  GetIntegrationResponsesCommand,
  GetIntegrationsCommand,
  GetModelsCommand,
  GetRouteResponsesCommand,
  GetRoutesCommand,
  GetStageCommand,
  NotFoundException,
  TagResourceCommand,
  UpdateIntegrationCommand,
  UpdateModelCommand,
  UpdateRouteCommand,
  UpdateStageCommand,
  type Integration,
  type IntegrationResponse,
  type Model,
  type Route,
} from '@aws-sdk/client-apigatewayv2';
import { mockClient, type AwsClientStub } from 'aws-sdk-client-mock';
import type { Ctx } from '../../src/provision/types.js';
import { API_SHAPE, MODEL_SHAPES, routeShapes } from '../../src/provision/websocket-api-shapes.js';

export interface WebSocketApiState {
  ApiId: string;
  Name: string;
  Tags: Record<string, string>;
  RouteSelectionExpression?: string;
  ApiKeySelectionExpression?: string;
  routes: (Route & { responses: string[] })[];
  integrations: (Integration & { responses: IntegrationResponse[] })[];
  models: Model[];
  stage?: { DeploymentId?: string; DefaultRouteSettings: { ThrottlingRateLimit?: number; ThrottlingBurstLimit?: number }; Tags?: Record<string, string> };
}

const notFound = (message: string) => new NotFoundException({ message, $metadata: {} });

/** Wires the v2 client's calls to `apis`, which they read and change. */
export function mockWebSocketApis(apis: WebSocketApiState[]): AwsClientStub<ApiGatewayV2Client> {
  const m = mockClient(ApiGatewayV2Client);
  let next = 0;
  const id = (prefix: string) => `${prefix}${++next}`;
  const api = (ApiId?: string) => apis.find((a) => a.ApiId === ApiId) ?? (() => { throw notFound(`Invalid API identifier specified ${ApiId}`); })();
  m.on(GetApisCommand).callsFake(() => ({ Items: apis.map(({ ApiId, Name, Tags, RouteSelectionExpression, ApiKeySelectionExpression }) => ({ ApiId, Name, Tags, ProtocolType: 'WEBSOCKET', RouteSelectionExpression, ApiKeySelectionExpression })) }));
  m.on(GetRoutesCommand).callsFake((input) => ({ Items: api(input.ApiId).routes.map(({ responses: _, ...r }) => r) }));
  m.on(GetIntegrationsCommand).callsFake((input) => ({ Items: api(input.ApiId).integrations.map(({ responses: _, ...i }) => i) }));
  m.on(GetModelsCommand).callsFake((input) => ({ Items: api(input.ApiId).models }));
  m.on(GetStageCommand).callsFake((input) => {
    const { stage } = api(input.ApiId);
    if (!stage) throw notFound(`Invalid stage identifier specified`);
    return { StageName: input.StageName, ...stage };
  });
  m.on(GetIntegrationResponsesCommand).callsFake((input) => ({ Items: api(input.ApiId).integrations.find((i) => i.IntegrationId === input.IntegrationId)!.responses }));
  m.on(GetRouteResponsesCommand).callsFake((input) => ({ Items: api(input.ApiId).routes.find((r) => r.RouteId === input.RouteId)!.responses.map((RouteResponseKey) => ({ RouteResponseKey })) }));

  m.on(CreateApiCommand).callsFake((input) => {
    const created: WebSocketApiState = { ApiId: id('ws'), Name: input.Name!, Tags: { ...input.Tags }, RouteSelectionExpression: input.RouteSelectionExpression, ApiKeySelectionExpression: input.ApiKeySelectionExpression, routes: [], integrations: [], models: [] };
    apis.push(created);
    return { ApiId: created.ApiId, Name: created.Name };
  });
  m.on(CreateModelCommand).callsFake(({ ApiId, ...model }) => {
    const created = { ModelId: id('model'), ...model };
    api(ApiId).models.push(created);
    return created;
  });
  m.on(UpdateModelCommand).callsFake(({ ApiId, ModelId, Schema }) => Object.assign(api(ApiId).models.find((x) => x.ModelId === ModelId)!, { Schema }));
  m.on(CreateIntegrationCommand).callsFake(({ ApiId, ...integration }) => {
    const created = { IntegrationId: id('int'), ...integration, responses: [] };
    api(ApiId).integrations.push(created);
    return { IntegrationId: created.IntegrationId };
  });
  m.on(UpdateIntegrationCommand).callsFake(({ ApiId, IntegrationId, ...fields }) => {
    Object.assign(api(ApiId).integrations.find((i) => i.IntegrationId === IntegrationId)!, fields);
    return { IntegrationId };
  });
  m.on(CreateIntegrationResponseCommand).callsFake(({ ApiId, IntegrationId, ...response }) => {
    const created = { IntegrationResponseId: id('ir'), ...response };
    api(ApiId).integrations.find((i) => i.IntegrationId === IntegrationId)!.responses.push(created);
    return created;
  });
  m.on(CreateRouteCommand).callsFake(({ ApiId, ...route }) => {
    const created = { RouteId: id('route'), ...route, responses: [] };
    api(ApiId).routes.push(created);
    return { RouteId: created.RouteId };
  });
  m.on(UpdateRouteCommand).callsFake(({ ApiId, RouteId, ...fields }) => {
    Object.assign(api(ApiId).routes.find((r) => r.RouteId === RouteId)!, fields);
    return { RouteId };
  });
  m.on(CreateRouteResponseCommand).callsFake(({ ApiId, RouteId, RouteResponseKey }) => {
    api(ApiId).routes.find((r) => r.RouteId === RouteId)!.responses.push(RouteResponseKey!);
    return { RouteResponseKey };
  });
  m.on(CreateStageCommand).callsFake(({ ApiId, DefaultRouteSettings, Tags }) => {
    api(ApiId).stage = { DefaultRouteSettings: { ...DefaultRouteSettings }, Tags };
    return {};
  });
  m.on(UpdateStageCommand).callsFake(({ ApiId, DefaultRouteSettings }) => {
    Object.assign(api(ApiId).stage!, { DefaultRouteSettings });
    return {};
  });
  // A deployment with a stage name is released to that stage.
  m.on(CreateDeploymentCommand).callsFake(({ ApiId, StageName }) => {
    const DeploymentId = id('dep');
    if (StageName) api(ApiId).stage!.DeploymentId = DeploymentId;
    return { DeploymentId, DeploymentStatus: 'DEPLOYED' };
  });
  m.on(TagResourceCommand).callsFake(({ ResourceArn, Tags }) => {
    Object.assign(api(ResourceArn!.split('/apis/')[1]).Tags, Tags);
    return {};
  });
  m.on(DeleteApiCommand).callsFake(({ ApiId }) => {
    api(ApiId);
    apis.splice(apis.findIndex((a) => a.ApiId === ApiId), 1);
    return {};
  });
  return m;
}

/** The WebSocket API of a stack `up` converged with default settings (its routes are the app's own shapes: up.test checks their text). */
export function convergedWebSocketApi(ctx: Ctx, ApiId: string, tags: Record<string, string>): WebSocketApiState {
  const shapes = routeShapes(ctx);
  return {
    ApiId, Name: ctx.names.websocketApi, Tags: { ...tags }, ...API_SHAPE,
    models: MODEL_SHAPES.map((m, i) => ({ ModelId: `model-${i}`, Name: m.Name, ContentType: m.ContentType, Schema: JSON.stringify(m.Schema) })),
    integrations: shapes.map((s, i) => ({ IntegrationId: `int-${i}`, ...s.integration, TimeoutInMillis: 29000,
      responses: Object.entries(s.responses).map(([IntegrationResponseKey, r], j) => ({ IntegrationResponseId: `ir-${i}-${j}`, IntegrationResponseKey, ...r })) })),
    routes: shapes.map((s, i) => ({ RouteId: `route-${i}`, ...s.route, Target: `integrations/int-${i}`, responses: s.twoWay ? ['$default'] : [] })),
    stage: { DeploymentId: 'dep-1', DefaultRouteSettings: { ThrottlingRateLimit: ctx.settings.rateLimit, ThrottlingBurstLimit: ctx.settings.burstLimit }, Tags: { ...tags } },
  };
}
