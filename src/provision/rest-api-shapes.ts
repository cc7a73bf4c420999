import type { GatewayResponse, Method, Model, RequestValidator, Stage } from '@aws-sdk/client-api-gateway';
import { REQUEST_BODY_SCHEMA, REQUEST_MODEL_NAME, REQUEST_VALIDATOR_NAME, RESOURCE_PATH, STAGE_NAME } from '../contract.js';
import { roleArn } from './arns.js';
import { fieldChanges } from './diff.js';
import type { Change, Ctx, Live } from './types.js';

/** What the REST API should look like (methods, integrations, gateway responses, stage), and how the live one is read for comparison. */

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

export const JSON_TYPE = 'application/json';
export const CORS_ORIGIN_HEADER = 'method.response.header.Access-Control-Allow-Origin';
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

export interface MethodShape {
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

export function postShape(ctx: Ctx, validatorId: string | undefined): MethodShape {
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

export function optionsShape(ctx: Ctx): MethodShape {
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

export function liveMethodShape(method: Method | undefined): Partial<MethodShape> | undefined {
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
export function gatewayResponseShapes(ctx: Ctx) {
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

export function liveGatewayResponse(live: RestApiLive, type: string) {
  const found = live.gatewayResponses.find((r) => r.responseType === type && !r.defaultResponse);
  return found && { statusCode: found.statusCode, responseTemplates: found.responseTemplates, responseParameters: found.responseParameters };
}

function stageShape(ctx: Ctx) {
  return { deployed: true, throttlingRateLimit: ctx.settings.rateLimit, throttlingBurstLimit: ctx.settings.burstLimit };
}

export function liveStageShape(stage: Stage | undefined) {
  const all = stage?.methodSettings?.['*/*'];
  return { deployed: !!stage, throttlingRateLimit: all?.throttlingRateLimit, throttlingBurstLimit: all?.throttlingBurstLimit };
}

/** Every part of the API that differs, with the fields that differ; the stage is compared last. */
export function apiChanges(ctx: Ctx, live: RestApiLive) {
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
