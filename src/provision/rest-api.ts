import {
  CreateDeploymentCommand,
  CreateModelCommand,
  CreateRequestValidatorCommand,
  CreateResourceCommand,
  CreateRestApiCommand,
  DeleteMethodCommand,
  DeleteRestApiCommand,
  GetGatewayResponsesCommand,
  GetModelsCommand,
  GetRequestValidatorsCommand,
  GetResourcesCommand,
  GetRestApisCommand,
  GetStageCommand,
  PutGatewayResponseCommand,
  PutIntegrationCommand,
  PutIntegrationResponseCommand,
  PutMethodCommand,
  PutMethodResponseCommand,
  TagResourceCommand,
  UpdateModelCommand,
  UpdateRequestValidatorCommand,
  UpdateStageCommand,
} from '@aws-sdk/client-api-gateway';
import { REQUEST_BODY_SCHEMA, REQUEST_MODEL_NAME, REQUEST_VALIDATOR_NAME, RESOURCE_PATH, RESULTS_PATH, STACK_TAG, STAGE_NAME } from '../contract.js';
import { apiCall, findByName } from './api-gateway.js';
import { apiGatewayArn } from './arns.js';
import { fieldChanges, orMissing, runPuts } from './diff.js';
import {
  CORS_ORIGIN_HEADER, JSON_TYPE, gatewayResponseShapes, getResultShape, liveGatewayResponse, liveMethodShape, liveStageShape, optionsShape, postShape, stageShape,
  type MethodShape, type RestApiLive,
} from './rest-api-shapes.js';
import { Change, type Ctx, type Put, type Resource } from './types.js';

export type { RestApiLive } from './rest-api-shapes.js';

async function putMethod(ctx: Ctx, restApiId: string, resourceId: string, httpMethod: string, shape: MethodShape, exists: boolean) {
  const gw = ctx.clients.apigateway;
  if (exists) await apiCall(ctx, () => gw.send(new DeleteMethodCommand({ restApiId, resourceId, httpMethod })));
  await apiCall(ctx, () => gw.send(new PutMethodCommand({
    restApiId, resourceId, httpMethod,
    authorizationType: shape.authorizationType,
    apiKeyRequired: shape.apiKeyRequired,
    requestValidatorId: shape.requestValidatorId,
    requestModels: shape.requestModels,
  })));
  for (const [statusCode, response] of Object.entries(shape.methodResponses)) {
    await apiCall(ctx, () => gw.send(new PutMethodResponseCommand({ restApiId, resourceId, httpMethod, statusCode, responseParameters: response.responseParameters })));
  }
  const { integrationResponses, httpMethod: integrationHttpMethod, ...integration } = shape.integration;
  await apiCall(ctx, () => gw.send(new PutIntegrationCommand({ restApiId, resourceId, httpMethod, integrationHttpMethod, ...integration })));
  for (const [statusCode, response] of Object.entries(integrationResponses)) {
    await apiCall(ctx, () => gw.send(new PutIntegrationResponseCommand({ restApiId, resourceId, httpMethod, statusCode, ...response })));
  }
}

/** One part of the API: how the plan names it, its live and desired shapes, and how to put it. */
interface ApiPart {
  name: string;
  live: unknown;
  desired: unknown;
  put: Put;
}

/**
 * The REST API as a table of parts, in the order they are put: resources, model, validator,
 * gateway responses, methods. Both the plan and the apply derive from it. The ids of parts
 * created during the apply are kept in `at`, for the parts after them.
 */
function apiParts(ctx: Ctx, live: RestApiLive): ApiPart[] {
  const gw = ctx.clients.apigateway;
  const restApiId = live.id;
  const at = { rootId: live.rootId, resourceId: live.resourceId, resultsId: live.resultsId, resultId: live.resultId, validatorId: live.validator?.id };
  const root = async () => (at.rootId ??= (await gw.send(new GetResourcesCommand({ restApiId, limit: 500 }))).items?.find((r) => r.path === '/')?.id);
  const createResource = async (parentId: string | undefined, pathPart: string) =>
    (await apiCall(ctx, () => gw.send(new CreateResourceCommand({ restApiId, parentId, pathPart })))).id!;
  const schema = JSON.stringify(REQUEST_BODY_SCHEMA);
  const method = (name: string, resource: () => string | undefined, liveMethod: RestApiLive['methods'][string] | undefined, shape: () => MethodShape): ApiPart => ({
    name,
    live: liveMethodShape(liveMethod),
    desired: shape(),
    put: () => putMethod(ctx, restApiId, resource()!, name.split(' ')[0]!, shape(), !!liveMethod),
  });
  return [
    {
      name: `resource /${RESOURCE_PATH}`, live: live.resourceId ? 'present' : undefined, desired: 'present',
      put: async () => {
        at.resourceId = await createResource(await root(), RESOURCE_PATH);
      },
    },
    {
      name: `resource /${RESULTS_PATH}/{id}`, live: live.resultId ? 'present' : undefined, desired: 'present',
      put: async () => {
        at.resultsId ??= await createResource(await root(), RESULTS_PATH);
        at.resultId = await createResource(at.resultsId, '{id}');
      },
    },
    {
      // A model's content type is fixed when it is created: once it exists, only its schema is put.
      name: `model ${REQUEST_MODEL_NAME}`,
      live: live.model && { schema: JSON.parse(live.model.schema ?? '{}') },
      desired: live.model ? { schema: REQUEST_BODY_SCHEMA } : { contentType: JSON_TYPE, schema: REQUEST_BODY_SCHEMA },
      put: async () => {
        if (live.model) {
          await apiCall(ctx, () => gw.send(new UpdateModelCommand({ restApiId, modelName: REQUEST_MODEL_NAME, patchOperations: [{ op: 'replace', path: '/schema', value: schema }] })));
        } else {
          await apiCall(ctx, () => gw.send(new CreateModelCommand({ restApiId, name: REQUEST_MODEL_NAME, contentType: JSON_TYPE, schema })));
        }
      },
    },
    {
      name: `validator ${REQUEST_VALIDATOR_NAME}`,
      live: live.validator && { validateRequestBody: live.validator.validateRequestBody ?? false, validateRequestParameters: live.validator.validateRequestParameters ?? false },
      desired: { validateRequestBody: true, validateRequestParameters: false },
      put: async () => {
        if (!at.validatorId) {
          at.validatorId = (await apiCall(ctx, () => gw.send(new CreateRequestValidatorCommand({ restApiId, name: REQUEST_VALIDATOR_NAME, validateRequestBody: true, validateRequestParameters: false })))).id!;
          return;
        }
        await apiCall(ctx, () => gw.send(new UpdateRequestValidatorCommand({ restApiId, requestValidatorId: at.validatorId, patchOperations: [
          { op: 'replace', path: '/validateRequestBody', value: 'true' },
          { op: 'replace', path: '/validateRequestParameters', value: 'false' },
        ] })));
      },
    },
    ...Object.entries(gatewayResponseShapes(ctx)).map(([type, shape]): ApiPart => ({
      name: `gateway response ${type}`,
      live: liveGatewayResponse(live, type),
      desired: shape,
      put: async () => {
        await apiCall(ctx, () => gw.send(new PutGatewayResponseCommand({ restApiId, responseType: type as 'BAD_REQUEST_BODY', ...shape })));
      },
    })),
    method('POST', () => at.resourceId, live.methods.POST, () => postShape(ctx, at.validatorId)),
    method('OPTIONS', () => at.resourceId, live.methods.OPTIONS, () => optionsShape(ctx, 'POST')),
    method(`GET /${RESULTS_PATH}/{id}`, () => at.resultId, live.resultMethods.GET, () => getResultShape(ctx)),
    method(`OPTIONS /${RESULTS_PATH}/{id}`, () => at.resultId, live.resultMethods.OPTIONS, () => optionsShape(ctx, 'GET')),
  ];
}

/**
 * Every part that differs, then the stage: changed parts reach clients only once deployed, so any
 * of them brings a deployment; the stage's throttling is compared after it (a deployment may
 * reset it on some emulators, so it is read again).
 */
function apiChanges(ctx: Ctx, live: RestApiLive): Change[] {
  const gw = ctx.clients.apigateway;
  const restApiId = live.id;
  const parts = apiParts(ctx, live).flatMap((part) => fieldChanges(part.name, part.live, part.desired, part.put));
  const putStage = async () => {
    let stage = live.stage;
    if (parts.length || !stage) {
      await apiCall(ctx, () => gw.send(new CreateDeploymentCommand({ restApiId, stageName: STAGE_NAME, description: `bedrock-queue up (${ctx.stack})` })));
      stage = await orMissing(gw.send(new GetStageCommand({ restApiId, stageName: STAGE_NAME })));
    }
    const throttling = liveStageShape(stage);
    if (throttling.throttlingRateLimit !== ctx.settings.rateLimit || throttling.throttlingBurstLimit !== ctx.settings.burstLimit) {
      await apiCall(ctx, () => gw.send(new UpdateStageCommand({ restApiId, stageName: STAGE_NAME, patchOperations: [
        { op: 'replace', path: '/*/*/throttling/rateLimit', value: String(ctx.settings.rateLimit) },
        { op: 'replace', path: '/*/*/throttling/burstLimit', value: String(ctx.settings.burstLimit) },
      ] })));
    }
  };
  const stage = fieldChanges(`stage ${STAGE_NAME}`, liveStageShape(live.stage), stageShape(ctx), putStage);
  const deployment = parts.length && live.stage ? [new Change(`stage ${STAGE_NAME}.deployment`, 'without these changes', 'with them', putStage)] : [];
  return [...parts, ...stage, ...deployment];
}

export const restApi: Resource<RestApiLive> = {
  key: 'rest-api',
  kind: 'API Gateway REST API',
  name: (ctx) => ctx.names.restApi,
  async read(ctx) {
    const { item: api, duplicates } = await findByName(ctx, ctx.names.restApi, (position) => ctx.clients.apigateway.send(new GetRestApisCommand({ limit: 500, position })));
    if (!api) return undefined;
    const base: RestApiLive = { id: api.id!, rootId: api.rootResourceId, tags: api.tags ?? {}, methods: {}, resultMethods: {}, gatewayResponses: [], duplicates: duplicates.map((d) => d.id!) };
    if (base.tags[STACK_TAG] !== ctx.stack) return base;
    const restApiId = api.id!;
    const gw = ctx.clients.apigateway;
    // An API deleted since the listing (eventual consistency) answers NotFoundException: missing.
    const parts = await orMissing(Promise.all([
      gw.send(new GetResourcesCommand({ restApiId, embed: ['methods'], limit: 500 })),
      gw.send(new GetModelsCommand({ restApiId, limit: 500 })),
      gw.send(new GetRequestValidatorsCommand({ restApiId, limit: 500 })),
      gw.send(new GetGatewayResponsesCommand({ restApiId, limit: 500 })),
      orMissing(gw.send(new GetStageCommand({ restApiId, stageName: STAGE_NAME }))),
    ]));
    if (!parts) return undefined;
    const [resources, models, validators, responses, stage] = parts;
    const at = (path: string) => resources.items?.find((r) => r.path === path);
    const resource = at(`/${RESOURCE_PATH}`);
    const result = at(`/${RESULTS_PATH}/{id}`);
    return {
      ...base,
      rootId: base.rootId ?? at('/')?.id,
      resourceId: resource?.id,
      methods: resource?.resourceMethods ?? {},
      resultsId: at(`/${RESULTS_PATH}`)?.id,
      resultId: result?.id,
      resultMethods: result?.resourceMethods ?? {},
      model: models.items?.find((m) => m.name === REQUEST_MODEL_NAME),
      validator: validators.items?.find((v) => v.name === REQUEST_VALIDATOR_NAME),
      gatewayResponses: responses.items ?? [],
      stage,
    };
  },
  ids: (_ctx, live) => ({ restApiId: live.id }),
  liveSettings(live) {
    const post = live.methods.POST;
    const origin = post?.methodIntegration?.integrationResponses?.['202']?.responseParameters?.[CORS_ORIGIN_HEADER];
    const stage = liveStageShape(live.stage);
    return {
      ...(post ? { apiKeyRequired: post.apiKeyRequired ?? false } : {}),
      ...(origin ? { corsOrigin: origin.replace(/^'|'$/g, '') } : {}),
      ...(stage.throttlingRateLimit !== undefined ? { rateLimit: stage.throttlingRateLimit } : {}),
      ...(stage.throttlingBurstLimit !== undefined ? { burstLimit: stage.throttlingBurstLimit } : {}),
    };
  },
  diff: (ctx, live) => apiChanges(ctx, live),
  async create(ctx) {
    const created = await apiCall(ctx, () => ctx.clients.apigateway.send(new CreateRestApiCommand({
      name: ctx.names.restApi,
      description: `bedrock-queue stack ${ctx.stack}: POST /${RESOURCE_PATH} queues a prompt, GET /${RESULTS_PATH}/{id} reads its result`,
      endpointConfiguration: { types: ['REGIONAL'] },
      apiKeySource: 'HEADER',
      tags: ctx.tags,
    })));
    await runPuts(apiChanges(ctx, { id: created.id!, rootId: created.rootResourceId, tags: ctx.tags, methods: {}, resultMethods: {}, gatewayResponses: [] }));
    return { restApiId: created.id! };
  },
  async tag(ctx, live, tags) {
    await apiCall(ctx, () => ctx.clients.apigateway.send(new TagResourceCommand({ resourceArn: apiGatewayArn(ctx, 'restapis', live.id), tags })));
  },
  async remove(ctx, live) {
    await restApi.removeDuplicate!(ctx, live.id);
  },
  async removeDuplicate(ctx, restApiId) {
    await apiCall(ctx, () => ctx.clients.apigateway.send(new DeleteRestApiCommand({ restApiId })));
  },
};
