import type { GatewayResponse, Method, Model, RequestValidator, Stage } from '@aws-sdk/client-api-gateway';
import { REQUEST_ID_PATTERN, REQUEST_MODEL_NAME, REQUEUE_ATTRIBUTES, RESULT_ITEM, RESULT_MESSAGES, RESULT_RETRY_AFTER_SECONDS, RESULTS_PATH, pendingBody } from '../contract.js';
import { integrationUri, roleArn } from './arns.js';
import type { Ctx, Live } from './types.js';

/** What the REST API should look like (methods, integrations, gateway responses, stage), and how the live one is read for comparison. */

export interface RestApiLive extends Live {
  id: string;
  rootId?: string;
  resourceId?: string;
  methods: Record<string, Method>;
  /** /results and /results/{id}, and the methods of the latter. */
  resultsId?: string;
  resultId?: string;
  resultMethods: Record<string, Method>;
  model?: Model;
  validator?: RequestValidator;
  gatewayResponses: GatewayResponse[];
  stage?: Stage;
}

export const JSON_TYPE = 'application/json';
export const CORS_ORIGIN_HEADER = 'method.response.header.Access-Control-Allow-Origin';
const quoted = (value: string) => `'${value.replace(/'/g, '')}'`;

/**
 * Templates are written on one line, with #{else} and #{end}: Velocity engines differ in the
 * newlines they keep around directives, and a body must be exactly what it carries.
 */
export const oneLine = (...parts: string[]) => parts.join('');
export const entry = (field: string) => `SendMessageBatchRequestEntry.1.${field}`;

/**
 * The request goes to SQS as a batch of one, whose entry Id SQS answers back: the id the client
 * chose (the model checked it is a UUID), else the API's own request id. An integration response
 * cannot see the request body, so this echo is how the 202 can name an id the client chose. The
 * body is URL-encoded: a raw body with &, + or = is cut or corrupted by the SQS query protocol. The
 * id travels in a message attribute too, for the worker.
 */
export const SEND_MESSAGE_TEMPLATE = oneLine(
  "#set($id = $input.path('$.id'))",
  '#if("$!id" == "")#set($id = $context.requestId)#{else}#set($id = $id.toLowerCase())#{end}',
  `Action=SendMessageBatch&${entry('Id')}=$id&${entry('MessageBody')}=$util.urlEncode($input.body)`,
  `&${entry('MessageAttribute.1.Name')}=${REQUEUE_ATTRIBUTES.requestId}&${entry('MessageAttribute.1.Value.DataType')}=String&${entry('MessageAttribute.1.Value.StringValue')}=$id`,
);
/**
 * How an integration queues a request (POST and the WebSocket route `invoke` alike): the query
 * protocol's form body, to the requests queue; SQS answers in XML (Accept), whose element names its
 * API reference documents for SendMessageBatch.
 */
export const SQS_REQUEST_PARAMETERS = { 'integration.request.header.Content-Type': "'application/x-www-form-urlencoded'", 'integration.request.header.Accept': "'application/xml'" };
export const requestsQueueUri = (ctx: Ctx) => integrationUri(ctx, 'sqs', `path/${ctx.account.accountId}/${ctx.names.requestsQueue}`);
export const xmlField = (element: string, field: string) => `$input.body.replaceAll('^[\\s\\S]*?<${element}>[\\s\\S]*?<${field}>([^<]*)</${field}>[\\s\\S]*$', '$1')`;
const errorTemplate = (message: string) => `{"message": "${message}", "requestId": "$context.requestId"}`;

/**
 * The 202's body is the id; its Location header names where the result will be (Asynchronous
 * Request-Reply). SendMessageBatch answers 200 even when its one entry failed: then the entry's
 * SenderFault says whether the request (400) or SQS (500) is at fault.
 */
export const ACCEPTED_TEMPLATE = oneLine(
  "#if($input.body.contains('<SendMessageBatchResultEntry>'))",
  `#set($id = ${xmlField('SendMessageBatchResultEntry', 'Id')})`,
  `#set($context.responseOverride.header.Location = "${RESULTS_PATH}/$id")`,
  '{"id": "$id"}',
  "#elseif($input.body.contains('<SenderFault>true</SenderFault>'))",
  '#set($context.responseOverride.status = 400)',
  errorTemplate('The queue rejected the request'),
  '#{else}',
  '#set($context.responseOverride.status = 500)',
  errorTemplate('The queue is unavailable; try again'),
  '#{end}',
);

export const LOCATION_HEADER = 'method.response.header.Location';
export const RETRY_AFTER_HEADER = 'method.response.header.Retry-After';
/** Browsers show a script only the CORS-safelisted headers, unless the response names the others here. */
export const EXPOSE_HEADERS_HEADER = 'method.response.header.Access-Control-Expose-Headers';

/**
 * GetItem of one result: the id from the path, the stored record only, strongly consistent.
 * $util.escapeJavaScript writes ' as \', which is not JSON: AWS's template reference puts it back.
 */
export const GET_ITEM_TEMPLATE = (table: string) => oneLine(
  "#set($id = $util.escapeJavaScript($input.params('id')).replaceAll(\"\\\\'\",\"'\"))",
  `{"TableName": "${table}", "Key": {"${RESULT_ITEM.key}": {"S": "$id"}}, "ProjectionExpression": "#r, #e", "ExpressionAttributeNames": {"#r": "${RESULT_ITEM.record}", "#e": "${RESULT_ITEM.expiresAt}"}, "ConsistentRead": true}`,
);

/** 200 with the stored record byte for byte; 202 and Retry-After while there is none (or it has expired); 400 for what is not an id. */
export const RESULT_TEMPLATE = oneLine(
  "#set($id = $input.params('id'))",
  `#if(!$id.matches('${REQUEST_ID_PATTERN.source}'))`,
  '#set($context.responseOverride.status = 400)',
  errorTemplate(RESULT_MESSAGES.notAnId),
  '#{else}',
  `#set($record = $input.path('$.Item.${RESULT_ITEM.record}.S'))`,
  `#set($expires = $input.path('$.Item.${RESULT_ITEM.expiresAt}.N'))`,
  // Past its expiresAt a record is gone, though TTL deletes it only within days.
  '#if("$!record" == "" || ("$!expires" != "" && $util.parseJson($expires) < $context.requestTimeEpoch / 1000))',
  '#set($context.responseOverride.status = 202)',
  `#set($context.responseOverride.header.Retry-After = "${RESULT_RETRY_AFTER_SECONDS}")`,
  pendingBody('$util.escapeJavaScript($id)'),
  '#{else}$record#{end}',
  '#{end}',
);

/**
 * DynamoDB's 400s: throttling becomes 429 with Retry-After, a key it refuses (ValidationException,
 * or SerializationException for a request it cannot read) a 400, anything else (access, a missing
 * table) a 500.
 */
export const STORE_ERROR_TEMPLATE = oneLine(
  "#set($type = $input.path('$.__type'))",
  "#if($type.contains('ProvisionedThroughputExceeded') || $type.contains('Throttling') || $type.contains('RequestLimitExceeded'))",
  '#set($context.responseOverride.status = 429)',
  `#set($context.responseOverride.header.Retry-After = "${RESULT_RETRY_AFTER_SECONDS}")`,
  errorTemplate(RESULT_MESSAGES.busy),
  "#elseif($type.contains('ValidationException') || $type.contains('SerializationException'))",
  errorTemplate(RESULT_MESSAGES.notAnId),
  '#{else}',
  '#set($context.responseOverride.status = 500)',
  errorTemplate(RESULT_MESSAGES.unavailable),
  '#{end}',
);

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
  const cors = { [CORS_ORIGIN_HEADER]: quoted(ctx.settings.corsOrigin) };
  return {
    authorizationType: 'NONE',
    apiKeyRequired: ctx.settings.apiKeyRequired,
    requestValidatorId: validatorId ?? '(the new validator)',
    requestModels: { [JSON_TYPE]: REQUEST_MODEL_NAME },
    methodResponses: Object.fromEntries(POST_RESPONSES.map((r) => [r.statusCode, { responseParameters: { [CORS_ORIGIN_HEADER]: false, ...(r.statusCode === '202' ? { [LOCATION_HEADER]: false, [EXPOSE_HEADERS_HEADER]: false } : {}) } }])),
    integration: {
      type: 'AWS',
      httpMethod: 'POST',
      uri: requestsQueueUri(ctx),
      credentials: roleArn(ctx, ctx.names.apiRole),
      requestParameters: SQS_REQUEST_PARAMETERS,
      requestTemplates: { [JSON_TYPE]: SEND_MESSAGE_TEMPLATE },
      passthroughBehavior: 'NEVER',
      integrationResponses: Object.fromEntries(POST_RESPONSES.map((r) => [r.statusCode, {
        selectionPattern: r.selectionPattern,
        responseTemplates: { [JSON_TYPE]: r.template },
        responseParameters: r.statusCode === '202' ? { ...cors, [EXPOSE_HEADERS_HEADER]: "'Location'" } : cors,
      }])),
    },
  };
}

/** GET /results/{id}: an AWS integration straight to DynamoDB GetItem, as the API role; no Lambda in the read path. */
export function getResultShape(ctx: Ctx): MethodShape {
  const cors = { [CORS_ORIGIN_HEADER]: quoted(ctx.settings.corsOrigin) };
  const declared = (extra: Record<string, boolean> = {}) => ({ responseParameters: { [CORS_ORIGIN_HEADER]: false, ...extra } });
  const exposed = { ...cors, [EXPOSE_HEADERS_HEADER]: "'Retry-After'" };
  return {
    authorizationType: 'NONE',
    apiKeyRequired: ctx.settings.apiKeyRequired,
    // The 200 and 400 integration responses become 202 and 429 (responseOverride), which carry Retry-After.
    methodResponses: {
      '200': declared({ [EXPOSE_HEADERS_HEADER]: false }), '202': declared({ [RETRY_AFTER_HEADER]: false, [EXPOSE_HEADERS_HEADER]: false }),
      '400': declared({ [EXPOSE_HEADERS_HEADER]: false }), '429': declared({ [RETRY_AFTER_HEADER]: false, [EXPOSE_HEADERS_HEADER]: false }), '500': declared(),
    },
    integration: {
      type: 'AWS',
      httpMethod: 'POST',
      uri: integrationUri(ctx, 'dynamodb', 'action/GetItem'),
      credentials: roleArn(ctx, ctx.names.apiRole),
      requestTemplates: { [JSON_TYPE]: GET_ITEM_TEMPLATE(ctx.names.resultsTable) },
      passthroughBehavior: 'NEVER',
      integrationResponses: {
        '200': { selectionPattern: undefined, responseTemplates: { [JSON_TYPE]: RESULT_TEMPLATE }, responseParameters: exposed },
        '400': { selectionPattern: '4\\d{2}', responseTemplates: { [JSON_TYPE]: STORE_ERROR_TEMPLATE }, responseParameters: exposed },
        '500': { selectionPattern: '5\\d{2}', responseTemplates: { [JSON_TYPE]: errorTemplate(RESULT_MESSAGES.unavailable) }, responseParameters: cors },
      },
    },
  };
}

const CORS_HEADERS = {
  'method.response.header.Access-Control-Allow-Origin': (ctx: Ctx) => quoted(ctx.settings.corsOrigin),
  'method.response.header.Access-Control-Allow-Methods': (_ctx: Ctx, methods: string) => `'${methods},OPTIONS'`,
  'method.response.header.Access-Control-Allow-Headers': () => "'Content-Type,X-Api-Key'",
};

/** The CORS preflight of a resource whose other method is `method`. */
export function optionsShape(ctx: Ctx, method: 'POST' | 'GET'): MethodShape {
  return {
    authorizationType: 'NONE',
    apiKeyRequired: false,
    methodResponses: { '200': { responseParameters: Object.fromEntries(Object.keys(CORS_HEADERS).map((h) => [h, false])) } },
    integration: {
      type: 'MOCK',
      requestTemplates: { [JSON_TYPE]: '{"statusCode": 200}' },
      passthroughBehavior: 'WHEN_NO_MATCH',
      integrationResponses: { '200': { responseParameters: Object.fromEntries(Object.entries(CORS_HEADERS).map(([h, v]) => [h, v(ctx, method)])) } },
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

/**
 * Gateway responses: a body that says what is wrong with the request, and CORS headers on errors.
 * Their templates are not run by the VTL engine, only substituted ($context variables; no $util,
 * no directives): the validator's reason goes in as it is, as AWS's own examples put it.
 */
export function gatewayResponseShapes(ctx: Ctx) {
  return {
    BAD_REQUEST_BODY: {
      statusCode: '400',
      responseTemplates: { [JSON_TYPE]: '{"message": "Invalid request body: $context.error.validationErrorString"}' },
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

export function stageShape(ctx: Ctx) {
  return { deployed: true, throttlingRateLimit: ctx.settings.rateLimit, throttlingBurstLimit: ctx.settings.burstLimit };
}

export function liveStageShape(stage: Stage | undefined) {
  const all = stage?.methodSettings?.['*/*'];
  return { deployed: !!stage, throttlingRateLimit: all?.throttlingRateLimit, throttlingBurstLimit: all?.throttlingBurstLimit };
}
