import {
  CreateApiCommand,
  CreateDeploymentCommand,
  CreateIntegrationCommand,
  CreateIntegrationResponseCommand,
  CreateModelCommand,
  CreateRouteCommand,
  CreateRouteResponseCommand,
  CreateStageCommand,
  DeleteApiCommand,
  DeleteIntegrationResponseCommand,
  GetApisCommand,
  GetIntegrationResponsesCommand,
  GetIntegrationsCommand,
  GetModelsCommand,
  GetRouteResponsesCommand,
  GetRoutesCommand,
  GetStageCommand,
  TagResourceCommand,
  UpdateApiCommand,
  UpdateIntegrationCommand,
  UpdateIntegrationResponseCommand,
  UpdateModelCommand,
  UpdateRouteCommand,
  UpdateStageCommand,
} from '@aws-sdk/client-apigatewayv2';
import { STACK_TAG, STAGE_NAME } from '../contract.js';
import { apiCall, findByName } from './api-gateway.js';
import { apiGatewayPathArn } from './arns.js';
import { fieldChanges, orMissing, runPuts } from './diff.js';
import type { Ctx, Put, Resource } from './types.js';
import { Change } from './types.js';
import {
  API_SHAPE, DEFAULT_ROUTE_RESPONSE, MODEL_SHAPES, TWO_WAY_ROUTES, integrationOf, liveRouteShape, liveStageShape, routeShapes, stageShape,
  type RouteShape, type WebSocketApiLive,
} from './websocket-api-shapes.js';

export type { WebSocketApiLive } from './websocket-api-shapes.js';

/**
 * Puts one route whole: its integration, the integration's responses, the route (pointing at the
 * integration) and, for a two-way route, its route response. Integrations have no names: a route's
 * is the one its Target names; a route deleted by hand leaves its integration behind, which is
 * taken again rather than left as litter.
 */
async function putRoute(ctx: Ctx, live: WebSocketApiLive, shape: RouteShape) {
  const gw = ctx.clients.apigatewayv2;
  const ApiId = live.id;
  const route = live.routes.find((r) => r.RouteKey === shape.route.RouteKey);
  const referenced = new Set(live.routes.map((r) => r.Target));
  const integration = integrationOf(live.integrations, route) ?? (route ? undefined : live.integrations.find((i) =>
    !referenced.has(`integrations/${i.IntegrationId}`) && i.IntegrationType === shape.integration.IntegrationType && i.IntegrationUri === shape.integration.IntegrationUri));
  const IntegrationId = integration
    ? (await apiCall(ctx, () => gw.send(new UpdateIntegrationCommand({ ApiId, IntegrationId: integration.IntegrationId, ...shape.integration })))).IntegrationId
    : (await apiCall(ctx, () => gw.send(new CreateIntegrationCommand({ ApiId, ...shape.integration })))).IntegrationId;
  const liveResponses = integration ? live.integrationResponses[integration.IntegrationId!] ?? [] : [];
  for (const [IntegrationResponseKey, response] of Object.entries(shape.responses)) {
    const existing = liveResponses.find((r) => r.IntegrationResponseKey === IntegrationResponseKey);
    if (existing) await apiCall(ctx, () => gw.send(new UpdateIntegrationResponseCommand({ ApiId, IntegrationId, IntegrationResponseId: existing.IntegrationResponseId, IntegrationResponseKey, ...response })));
    else await apiCall(ctx, () => gw.send(new CreateIntegrationResponseCommand({ ApiId, IntegrationId, IntegrationResponseKey, ...response })));
  }
  for (const extra of liveResponses.filter((r) => !(r.IntegrationResponseKey! in shape.responses))) {
    await apiCall(ctx, () => gw.send(new DeleteIntegrationResponseCommand({ ApiId, IntegrationId, IntegrationResponseId: extra.IntegrationResponseId })));
  }
  const fields = { ...shape.route, Target: `integrations/${IntegrationId}` };
  const RouteId = route
    ? (await apiCall(ctx, () => gw.send(new UpdateRouteCommand({ ApiId, RouteId: route.RouteId, ...fields })))).RouteId
    : (await apiCall(ctx, () => gw.send(new CreateRouteCommand({ ApiId, ...fields })))).RouteId;
  const answers = (route ? live.routeResponses[route.RouteId!] ?? [] : []).some((r) => r.RouteResponseKey === DEFAULT_ROUTE_RESPONSE);
  if (shape.twoWay && !answers) await apiCall(ctx, () => gw.send(new CreateRouteResponseCommand({ ApiId, RouteId, RouteResponseKey: DEFAULT_ROUTE_RESPONSE })));
}

/**
 * Everything that differs, in the order it is put: the API's selection expressions, the models
 * the routes name, each route whole, then the stage's throttle, then a deployment. Changed routes
 * reach clients only once deployed (a stage's AutoDeploy is for HTTP APIs only), so any of them
 * brings a deployment to the stage, as does a stage that has none.
 */
function apiChanges(ctx: Ctx, live: WebSocketApiLive): Change[] {
  const gw = ctx.clients.apigatewayv2;
  const ApiId = live.id;
  const api = fieldChanges('api', live.api, API_SHAPE, async () => {
    await apiCall(ctx, () => gw.send(new UpdateApiCommand({ ApiId, ...API_SHAPE })));
  });
  const models = MODEL_SHAPES.flatMap((model) => {
    const found = live.models.find((m) => m.Name === model.Name);
    const Schema = JSON.stringify(model.Schema);
    // A model's content type is fixed once it exists: then only its schema is put.
    const put: Put = async () => {
      if (found) await apiCall(ctx, () => gw.send(new UpdateModelCommand({ ApiId, ModelId: found.ModelId, Schema })));
      else await apiCall(ctx, () => gw.send(new CreateModelCommand({ ApiId, Name: model.Name, ContentType: model.ContentType, Schema })));
    };
    return fieldChanges(`model ${model.Name}`, found && { schema: JSON.parse(found.Schema ?? '{}') as unknown }, found ? { schema: model.Schema } : { contentType: model.ContentType, schema: model.Schema }, put);
  });
  const routes = routeShapes(ctx).flatMap((shape) =>
    fieldChanges(`route ${shape.route.RouteKey}`, liveRouteShape(live, shape.route.RouteKey), shape, () => putRoute(ctx, live, shape)));
  const DefaultRouteSettings = stageShape(ctx);
  const stage = fieldChanges(`stage ${STAGE_NAME}`, liveStageShape(live.stage), DefaultRouteSettings, async () => {
    if (live.stage) await apiCall(ctx, () => gw.send(new UpdateStageCommand({ ApiId, StageName: STAGE_NAME, DefaultRouteSettings })));
    else await apiCall(ctx, () => gw.send(new CreateStageCommand({ ApiId, StageName: STAGE_NAME, DefaultRouteSettings, Tags: ctx.tags })));
  });
  const parts = [...api, ...models, ...routes];
  const undeployed = !live.stage?.DeploymentId;
  const deployment = parts.length || undeployed ? [new Change(`stage ${STAGE_NAME}.deployment`, undeployed ? 'none' : 'without these changes', 'with them', async () => {
    await apiCall(ctx, () => gw.send(new CreateDeploymentCommand({ ApiId, StageName: STAGE_NAME, Description: `bedrock-queue up (${ctx.stack})` })));
  })] : [];
  return [...parts, ...stage, ...deployment];
}

const emptyLive = (id: string, tags: Record<string, string>): WebSocketApiLive => ({
  id, tags, api: {}, routes: [], integrations: [], integrationResponses: {}, routeResponses: {}, models: [],
});

/** Reads the parts of one API: routes, integrations, models and stage, then each one's responses. */
async function readParts(ctx: Ctx, base: WebSocketApiLive): Promise<WebSocketApiLive | undefined> {
  const gw = ctx.clients.apigatewayv2;
  const ApiId = base.id;
  const parts = await orMissing(Promise.all([
    gw.send(new GetRoutesCommand({ ApiId, MaxResults: '500' })),
    gw.send(new GetIntegrationsCommand({ ApiId, MaxResults: '500' })),
    gw.send(new GetModelsCommand({ ApiId, MaxResults: '500' })),
    orMissing(gw.send(new GetStageCommand({ ApiId, StageName: STAGE_NAME }))),
  ]));
  if (!parts) return undefined;
  const [routes, integrations, models, stage] = parts;
  // The integrations of the routes, not others left by hand; route responses of the routes that answer only.
  const twoWay = (routes.Items ?? []).filter((r) => TWO_WAY_ROUTES.includes(r.RouteKey!));
  const responses = await orMissing(Promise.all([
    Promise.all((routes.Items ?? []).map((r) => integrationOf(integrations.Items ?? [], r)).filter((i) => !!i)
      .map(async (i) => [i.IntegrationId!, (await gw.send(new GetIntegrationResponsesCommand({ ApiId, IntegrationId: i.IntegrationId }))).Items ?? []] as const)),
    Promise.all(twoWay.map(async (r) => [r.RouteId!, (await gw.send(new GetRouteResponsesCommand({ ApiId, RouteId: r.RouteId }))).Items ?? []] as const)),
  ]));
  if (!responses) return undefined;
  return {
    ...base,
    routes: routes.Items ?? [],
    integrations: integrations.Items ?? [],
    models: models.Items ?? [],
    stage,
    integrationResponses: Object.fromEntries(responses[0]),
    routeResponses: Object.fromEntries(responses[1]),
  };
}

/** Finds the stack's WebSocket API by name (names of APIs are not unique; see findByName). */
export function findWebSocketApi(ctx: Ctx) {
  return findByName(ctx, ctx.names.websocketApi, async (position) => {
    const page = await ctx.clients.apigatewayv2.send(new GetApisCommand({ MaxResults: '500', NextToken: position }));
    return {
      items: (page.Items ?? []).filter((a) => a.ProtocolType === 'WEBSOCKET')
        .map((a) => ({ id: a.ApiId, name: a.Name, tags: a.Tags, createdDate: a.CreatedDate, api: { RouteSelectionExpression: a.RouteSelectionExpression, ApiKeySelectionExpression: a.ApiKeySelectionExpression } })),
      position: page.NextToken,
    };
  });
}

/** The WebSocket API (API Gateway v2) beside the REST API: README, "The WebSocket API". */
export const websocketApi: Resource<WebSocketApiLive> = {
  key: 'websocket-api',
  kind: 'API Gateway WebSocket API',
  name: (ctx) => ctx.names.websocketApi,
  async read(ctx) {
    const { item: api, duplicates } = await findWebSocketApi(ctx);
    if (!api) return undefined;
    const base = { ...emptyLive(api.id!, api.tags ?? {}), api: api.api, duplicates: duplicates.map((d) => d.id!) };
    return base.tags[STACK_TAG] === ctx.stack ? readParts(ctx, base) : base;
  },
  ids: (_ctx, live) => ({ websocketApiId: live.id }),
  diff: (ctx, live) => apiChanges(ctx, live),
  async create(ctx) {
    const created = await apiCall(ctx, () => ctx.clients.apigatewayv2.send(new CreateApiCommand({
      Name: ctx.names.websocketApi,
      ProtocolType: 'WEBSOCKET',
      Description: `bedrock-queue stack ${ctx.stack}: invoke and subscribe, answers pushed as they are written`,
      ...API_SHAPE,
      Tags: ctx.tags,
    })));
    await runPuts(apiChanges(ctx, { ...emptyLive(created.ApiId!, ctx.tags), api: API_SHAPE }));
    return { websocketApiId: created.ApiId! };
  },
  async tag(ctx, live, tags) {
    await apiCall(ctx, () => ctx.clients.apigatewayv2.send(new TagResourceCommand({ ResourceArn: apiGatewayPathArn(ctx, `/apis/${live.id}`), Tags: tags })));
  },
  remove: (ctx, live) => websocketApi.removeDuplicate!(ctx, live.id),
  async removeDuplicate(ctx, ApiId) {
    await apiCall(ctx, () => ctx.clients.apigatewayv2.send(new DeleteApiCommand({ ApiId })));
  },
};
