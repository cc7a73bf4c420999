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
import { restApiArn } from './arns.js';
import { fieldChanges, missingTags, orMissing, tagChanges } from './diff.js';
import {
  CORS_ORIGIN_HEADER, JSON_TYPE, apiChanges, gatewayResponseShapes, getResultShape, liveGatewayResponse, liveMethodShape, liveStageShape, optionsShape, postShape,
  type MethodShape, type RestApiLive,
} from './rest-api-shapes.js';
import type { Ctx, Resource } from './types.js';

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

/** Creates or repairs every part that differs, then deploys to the stage when anything changed. */
async function converge(ctx: Ctx, live: RestApiLive) {
  const gw = ctx.clients.apigateway;
  const restApiId = live.id;
  let changed = false;

  const rootId = live.rootId ?? (await gw.send(new GetResourcesCommand({ restApiId, limit: 500 }))).items?.find((r) => r.path === '/')?.id;
  const createResource = async (parentId: string | undefined, pathPart: string) => {
    changed = true;
    return (await apiCall(ctx, () => gw.send(new CreateResourceCommand({ restApiId, parentId, pathPart })))).id!;
  };
  const resourceId = live.resourceId ?? await createResource(rootId, RESOURCE_PATH);
  const resultsId = live.resultsId ?? await createResource(rootId, RESULTS_PATH);
  const resultId = live.resultId ?? await createResource(resultsId, '{id}');

  const schema = JSON.stringify(REQUEST_BODY_SCHEMA);
  if (!live.model) {
    await apiCall(ctx, () => gw.send(new CreateModelCommand({ restApiId, name: REQUEST_MODEL_NAME, contentType: JSON_TYPE, schema })));
    changed = true;
  } else if (fieldChanges('schema', JSON.parse(live.model.schema ?? '{}'), REQUEST_BODY_SCHEMA).length) {
    await apiCall(ctx, () => gw.send(new UpdateModelCommand({ restApiId, modelName: REQUEST_MODEL_NAME, patchOperations: [{ op: 'replace', path: '/schema', value: schema }] })));
    changed = true;
  }

  let validatorId = live.validator?.id;
  if (!validatorId) {
    validatorId = (await apiCall(ctx, () => gw.send(new CreateRequestValidatorCommand({ restApiId, name: REQUEST_VALIDATOR_NAME, validateRequestBody: true, validateRequestParameters: false })))).id!;
    changed = true;
  } else if (!live.validator?.validateRequestBody || live.validator.validateRequestParameters) {
    await apiCall(ctx, () => gw.send(new UpdateRequestValidatorCommand({ restApiId, requestValidatorId: validatorId, patchOperations: [
      { op: 'replace', path: '/validateRequestBody', value: 'true' },
      { op: 'replace', path: '/validateRequestParameters', value: 'false' },
    ] })));
    changed = true;
  }

  for (const [type, shape] of Object.entries(gatewayResponseShapes(ctx))) {
    if (fieldChanges(type, liveGatewayResponse(live, type), shape).length) {
      await apiCall(ctx, () => gw.send(new PutGatewayResponseCommand({ restApiId, responseType: type as 'BAD_REQUEST_BODY', ...shape })));
      changed = true;
    }
  }

  const methods = [
    { id: resourceId, fresh: !live.resourceId, live: live.methods, httpMethod: 'POST', shape: postShape(ctx, validatorId) },
    { id: resourceId, fresh: !live.resourceId, live: live.methods, httpMethod: 'OPTIONS', shape: optionsShape(ctx, 'POST') },
    { id: resultId, fresh: !live.resultId, live: live.resultMethods, httpMethod: 'GET', shape: getResultShape(ctx) },
    { id: resultId, fresh: !live.resultId, live: live.resultMethods, httpMethod: 'OPTIONS', shape: optionsShape(ctx, 'GET') },
  ];
  for (const method of methods) {
    const exists = !method.fresh && !!method.live[method.httpMethod];
    if (!exists || fieldChanges(method.httpMethod, liveMethodShape(method.live[method.httpMethod]), method.shape).length) {
      await putMethod(ctx, restApiId, method.id, method.httpMethod, method.shape, exists);
      changed = true;
    }
  }

  let liveStage = live.stage;
  if (changed || !liveStage) {
    await apiCall(ctx, () => gw.send(new CreateDeploymentCommand({ restApiId, stageName: STAGE_NAME, description: `bedrock-queue up (${ctx.stack})` })));
    // Whether a deployment keeps the stage's method settings differs between API Gateway and emulators: look again.
    liveStage = await orMissing(gw.send(new GetStageCommand({ restApiId, stageName: STAGE_NAME })));
  }
  const stage = liveStageShape(liveStage);
  if (stage.throttlingRateLimit !== ctx.settings.rateLimit || stage.throttlingBurstLimit !== ctx.settings.burstLimit) {
    await apiCall(ctx, () => gw.send(new UpdateStageCommand({ restApiId, stageName: STAGE_NAME, patchOperations: [
      { op: 'replace', path: '/*/*/throttling/rateLimit', value: String(ctx.settings.rateLimit) },
      { op: 'replace', path: '/*/*/throttling/burstLimit', value: String(ctx.settings.burstLimit) },
    ] })));
  }
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
    ctx.ids.restApiId = api.id!;
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
  diff(ctx, live) {
    const { api, stage } = apiChanges(ctx, live);
    return [...api, ...stage, ...tagChanges(ctx.tags, live.tags)];
  },
  async create(ctx) {
    const created = await apiCall(ctx, () => ctx.clients.apigateway.send(new CreateRestApiCommand({
      name: ctx.names.restApi,
      description: `bedrock-queue stack ${ctx.stack}: POST /${RESOURCE_PATH} queues a prompt, GET /${RESULTS_PATH}/{id} reads its result`,
      endpointConfiguration: { types: ['REGIONAL'] },
      apiKeySource: 'HEADER',
      tags: ctx.tags,
    })));
    ctx.ids.restApiId = created.id!;
    await converge(ctx, { id: created.id!, rootId: created.rootResourceId, tags: ctx.tags, methods: {}, resultMethods: {}, gatewayResponses: [] });
  },
  async update(ctx, live) {
    await converge(ctx, live);
    const tags = missingTags(ctx.tags, live.tags);
    if (Object.keys(tags).length) {
      await apiCall(ctx, () => ctx.clients.apigateway.send(new TagResourceCommand({ resourceArn: restApiArn(ctx, live.id), tags })));
    }
  },
  async remove(ctx, live) {
    await restApi.removeDuplicate!(ctx, live.id);
  },
  async removeDuplicate(ctx, restApiId) {
    await apiCall(ctx, () => ctx.clients.apigateway.send(new DeleteRestApiCommand({ restApiId })));
  },
};
