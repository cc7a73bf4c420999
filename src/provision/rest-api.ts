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
  type GatewayResponse,
  type Method,
  type Model,
  type RequestValidator,
  type Stage,
} from '@aws-sdk/client-api-gateway';
import {
  REQUEST_BODY_SCHEMA,
  REQUEST_MODEL_NAME,
  REQUEST_VALIDATOR_NAME,
  RESOURCE_PATH,
  STACK_TAG,
  STAGE_NAME,
} from '../contract.js';
import { restApiArn, roleArn } from './arns.js';
import { fieldChanges, missingTags, orMissing, tagChanges } from './diff.js';
import { RULES } from './retry.js';
import type { Change, Ctx, Live, Resource } from './types.js';

export interface RestApiLive extends Live {
  id: string;
  rootId?: string;
  resourceId?: string;
  methods: Record<string, Method>;
  model?: Model;
  validator?: RequestValidator;
  gatewayResponses: GatewayResponse[];
  stage?: Stage;
}

const API_RULES = [RULES.apiThrottled, RULES.apiConflict];
/** API Gateway control-plane calls, waiting out its low rate limits (CreateDeployment: 1 per 5 s). */
export const apiCall = <T>(ctx: Ctx, call: () => Promise<T>) => ctx.retry(API_RULES, call);

const JSON_TYPE = 'application/json';
const CORS_ORIGIN_HEADER = 'method.response.header.Access-Control-Allow-Origin';
const quoted = (value: string) => `'${value.replace(/'/g, '')}'`;

/** The body must be URL-encoded: a raw body with &, + or = is cut or corrupted by the SQS query protocol. */
export const SEND_MESSAGE_TEMPLATE = 'Action=SendMessage&MessageBody=$util.urlEncode($input.body)';
export const ACCEPTED_TEMPLATE = `{"id": "$input.path('$.SendMessageResponse.SendMessageResult.MessageId')"}`;
const errorTemplate = (message: string) => `{"message": "${message}", "requestId": "$context.requestId"}`;

/** Integration responses: SQS errors never reach the client as 200. */
const POST_RESPONSES = [
  { statusCode: '202', selectionPattern: undefined, template: ACCEPTED_TEMPLATE },
  { statusCode: '400', selectionPattern: '4\\d{2}', template: errorTemplate('The queue rejected the request') },
  { statusCode: '500', selectionPattern: '5\\d{2}', template: errorTemplate('The queue is unavailable; try again') },
];

interface MethodShape {
  authorizationType: string;
  apiKeyRequired: boolean;
  requestValidatorId?: string;
  requestModels?: Record<string, string>;
  methodResponses: Record<string, { responseParameters: Record<string, boolean> }>;
  integration: {
    type: 'AWS' | 'MOCK';
    httpMethod?: string;
    uri?: string;
    credentials?: string;
    requestParameters?: Record<string, string>;
    requestTemplates: Record<string, string>;
    passthroughBehavior: string;
    integrationResponses: Record<string, { selectionPattern?: string; responseTemplates?: Record<string, string>; responseParameters: Record<string, string> }>;
  };
}

function postShape(ctx: Ctx, validatorId: string | undefined): MethodShape {
  const { region, accountId } = ctx.account;
  const cors = { [CORS_ORIGIN_HEADER]: quoted(ctx.settings.corsOrigin) };
  return {
    authorizationType: 'NONE',
    apiKeyRequired: ctx.settings.apiKeyRequired,
    requestValidatorId: validatorId ?? '(the new validator)',
    requestModels: { [JSON_TYPE]: REQUEST_MODEL_NAME },
    methodResponses: Object.fromEntries(POST_RESPONSES.map((r) => [r.statusCode, { responseParameters: { [CORS_ORIGIN_HEADER]: false } }])),
    integration: {
      type: 'AWS',
      httpMethod: 'POST',
      uri: `arn:${ctx.account.partition}:apigateway:${region}:sqs:path/${accountId}/${ctx.names.requestsQueue}`,
      credentials: roleArn(ctx, ctx.names.apiRole),
      requestParameters: { 'integration.request.header.Content-Type': "'application/x-www-form-urlencoded'" },
      requestTemplates: { [JSON_TYPE]: SEND_MESSAGE_TEMPLATE },
      passthroughBehavior: 'NEVER',
      integrationResponses: Object.fromEntries(POST_RESPONSES.map((r) => [r.statusCode, {
        selectionPattern: r.selectionPattern,
        responseTemplates: { [JSON_TYPE]: r.template },
        responseParameters: cors,
      }])),
    },
  };
}

const CORS_HEADERS = {
  'method.response.header.Access-Control-Allow-Origin': (ctx: Ctx) => quoted(ctx.settings.corsOrigin),
  'method.response.header.Access-Control-Allow-Methods': () => "'POST,OPTIONS'",
  'method.response.header.Access-Control-Allow-Headers': () => "'Content-Type,X-Api-Key'",
};

function optionsShape(ctx: Ctx): MethodShape {
  return {
    authorizationType: 'NONE',
    apiKeyRequired: false,
    methodResponses: { '200': { responseParameters: Object.fromEntries(Object.keys(CORS_HEADERS).map((h) => [h, false])) } },
    integration: {
      type: 'MOCK',
      requestTemplates: { [JSON_TYPE]: '{"statusCode": 200}' },
      passthroughBehavior: 'WHEN_NO_MATCH',
      integrationResponses: { '200': { responseParameters: Object.fromEntries(Object.entries(CORS_HEADERS).map(([h, v]) => [h, v(ctx)])) } },
    },
  };
}

function liveMethodShape(method: Method | undefined): Partial<MethodShape> | undefined {
  if (!method) return undefined;
  const integration = method.methodIntegration;
  return {
    authorizationType: method.authorizationType,
    apiKeyRequired: method.apiKeyRequired ?? false,
    requestValidatorId: method.requestValidatorId,
    requestModels: method.requestModels,
    methodResponses: Object.fromEntries(Object.entries(method.methodResponses ?? {}).map(([code, r]) => [code, { responseParameters: r.responseParameters ?? {} }])),
    integration: integration && {
      type: integration.type as MethodShape['integration']['type'],
      httpMethod: integration.httpMethod,
      uri: integration.uri,
      credentials: integration.credentials,
      requestParameters: integration.requestParameters,
      requestTemplates: integration.requestTemplates ?? {},
      passthroughBehavior: integration.passthroughBehavior ?? '',
      integrationResponses: Object.fromEntries(Object.entries(integration.integrationResponses ?? {}).map(([code, r]) => [code, {
        selectionPattern: r.selectionPattern,
        responseTemplates: r.responseTemplates,
        responseParameters: r.responseParameters ?? {},
      }])),
    },
  };
}

const GATEWAY_CORS = (ctx: Ctx) => ({ 'gatewayresponse.header.Access-Control-Allow-Origin': quoted(ctx.settings.corsOrigin) });
const DEFAULT_ERROR_BODY = '{"message":$context.error.messageString}';

/** Gateway responses: a body that says what is wrong with the request, and CORS headers on errors. */
function gatewayResponseShapes(ctx: Ctx) {
  return {
    BAD_REQUEST_BODY: {
      statusCode: '400',
      responseTemplates: { [JSON_TYPE]: '{"message": "Invalid request body: $util.escapeJavaScript($context.error.validationErrorString)"}' },
      responseParameters: GATEWAY_CORS(ctx),
    },
    DEFAULT_4XX: { responseTemplates: { [JSON_TYPE]: DEFAULT_ERROR_BODY }, responseParameters: GATEWAY_CORS(ctx) },
    DEFAULT_5XX: { responseTemplates: { [JSON_TYPE]: DEFAULT_ERROR_BODY }, responseParameters: GATEWAY_CORS(ctx) },
  };
}

function liveGatewayResponse(live: RestApiLive, type: string) {
  const found = live.gatewayResponses.find((r) => r.responseType === type && !r.defaultResponse);
  return found && { statusCode: found.statusCode, responseTemplates: found.responseTemplates, responseParameters: found.responseParameters };
}

function stageShape(ctx: Ctx) {
  return { deployed: true, throttlingRateLimit: ctx.settings.rateLimit, throttlingBurstLimit: ctx.settings.burstLimit };
}

function liveStageShape(stage: Stage | undefined) {
  const all = stage?.methodSettings?.['*/*'];
  return { deployed: !!stage, throttlingRateLimit: all?.throttlingRateLimit, throttlingBurstLimit: all?.throttlingBurstLimit };
}

/** Every part of the API that differs, with the fields that differ; the stage is compared last. */
function apiChanges(ctx: Ctx, live: RestApiLive) {
  const gateway = gatewayResponseShapes(ctx);
  const api: Change[] = [
    ...fieldChanges(`resource /${RESOURCE_PATH}`, live.resourceId ? 'present' : undefined, 'present'),
    ...fieldChanges(`model ${REQUEST_MODEL_NAME}`, live.model && { contentType: live.model.contentType, schema: JSON.parse(live.model.schema ?? '{}') }, { contentType: JSON_TYPE, schema: REQUEST_BODY_SCHEMA }),
    ...fieldChanges(`validator ${REQUEST_VALIDATOR_NAME}`, live.validator && { validateRequestBody: live.validator.validateRequestBody, validateRequestParameters: live.validator.validateRequestParameters ?? false }, { validateRequestBody: true, validateRequestParameters: false }),
    ...Object.entries(gateway).flatMap(([type, shape]) => fieldChanges(`gateway response ${type}`, liveGatewayResponse(live, type), shape)),
    ...fieldChanges('POST', liveMethodShape(live.methods.POST), postShape(ctx, live.validator?.id)),
    ...fieldChanges('OPTIONS', liveMethodShape(live.methods.OPTIONS), optionsShape(ctx)),
  ];
  const stage = fieldChanges(`stage ${STAGE_NAME}`, liveStageShape(live.stage), stageShape(ctx));
  return { api, stage };
}

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

  let resourceId = live.resourceId;
  if (!resourceId) {
    const rootId = live.rootId ?? (await gw.send(new GetResourcesCommand({ restApiId, limit: 500 }))).items?.find((r) => r.path === '/')?.id;
    resourceId = (await apiCall(ctx, () => gw.send(new CreateResourceCommand({ restApiId, parentId: rootId, pathPart: RESOURCE_PATH })))).id!;
    changed = true;
  }

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

  for (const [httpMethod, shape] of [['POST', postShape(ctx, validatorId)], ['OPTIONS', optionsShape(ctx)]] as const) {
    const exists = !!live.methods[httpMethod];
    if (!exists || fieldChanges(httpMethod, liveMethodShape(live.methods[httpMethod]), shape).length) {
      await putMethod(ctx, restApiId, resourceId, httpMethod, shape, exists && live.resourceId === resourceId);
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

interface Named {
  name?: string;
  tags?: Record<string, string>;
}

/**
 * Finds an API Gateway item by name across all pages. Names of REST APIs, API keys and usage plans
 * are not unique, so the one tagged for this stack wins; an untagged namesake is returned so the
 * engine can refuse it.
 */
export async function findByName<T extends Named>(ctx: Ctx, name: string, page: (position?: string) => Promise<{ items?: T[]; position?: string }>): Promise<T | undefined> {
  const matches: T[] = [];
  let position: string | undefined;
  do {
    const result = await page(position);
    matches.push(...(result.items ?? []).filter((item) => item.name === name));
    position = result.position;
  } while (position);
  return matches.find((item) => item.tags?.[STACK_TAG] === ctx.stack) ?? matches[0];
}

export const restApi: Resource<RestApiLive> = {
  key: 'rest-api',
  kind: 'API Gateway REST API',
  name: (ctx) => ctx.names.restApi,
  async read(ctx) {
    const api = await findByName(ctx, ctx.names.restApi, (position) => ctx.clients.apigateway.send(new GetRestApisCommand({ limit: 500, position })));
    if (!api) return undefined;
    const base: RestApiLive = { id: api.id!, rootId: api.rootResourceId, tags: api.tags ?? {}, methods: {}, gatewayResponses: [] };
    if (base.tags[STACK_TAG] !== ctx.stack) return base;
    ctx.ids.restApiId = api.id!;
    const restApiId = api.id!;
    const gw = ctx.clients.apigateway;
    const [resources, models, validators, responses, stage] = await Promise.all([
      gw.send(new GetResourcesCommand({ restApiId, embed: ['methods'], limit: 500 })),
      gw.send(new GetModelsCommand({ restApiId, limit: 500 })),
      gw.send(new GetRequestValidatorsCommand({ restApiId, limit: 500 })),
      gw.send(new GetGatewayResponsesCommand({ restApiId, limit: 500 })),
      orMissing(gw.send(new GetStageCommand({ restApiId, stageName: STAGE_NAME }))),
    ]);
    const resource = resources.items?.find((r) => r.path === `/${RESOURCE_PATH}`);
    return {
      ...base,
      rootId: base.rootId ?? resources.items?.find((r) => r.path === '/')?.id,
      resourceId: resource?.id,
      methods: resource?.resourceMethods ?? {},
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
      description: `bedrock-queue stack ${ctx.stack}: POST /${RESOURCE_PATH} queues a prompt`,
      endpointConfiguration: { types: ['REGIONAL'] },
      apiKeySource: 'HEADER',
      tags: ctx.tags,
    })));
    ctx.ids.restApiId = created.id!;
    await converge(ctx, { id: created.id!, rootId: created.rootResourceId, tags: ctx.tags, methods: {}, gatewayResponses: [] });
  },
  async update(ctx, live) {
    await converge(ctx, live);
    const tags = missingTags(ctx.tags, live.tags);
    if (Object.keys(tags).length) {
      await apiCall(ctx, () => ctx.clients.apigateway.send(new TagResourceCommand({ resourceArn: restApiArn(ctx, live.id), tags })));
    }
  },
  async remove(ctx, live) {
    await apiCall(ctx, () => ctx.clients.apigateway.send(new DeleteRestApiCommand({ restApiId: live.id })));
  },
};
