import type { GetStageResponse, Integration, IntegrationResponse, Model, Route, RouteResponse } from '@aws-sdk/client-apigatewayv2';
import { REQUEUE_ATTRIBUTES, REQUEST_ID_PATTERN, RESULT_ITEM, RESULTS_PATH } from '../contract.js';
import { ACTIONS, CONNECTION_ATTRIBUTE, FRAME_MODELS, INLINE_RECORD_MAX_CHARS, INVOKE_FRAME_SCHEMA, ROUTE_SELECTION, SUBSCRIBE_FRAME_SCHEMA, subscribeUpdate } from '../stream-contract.js';
import { integrationUri, roleArn } from './arns.js';
import { JSON_TYPE, SQS_REQUEST_PARAMETERS, entry, oneLine, requestsQueueUri, xmlField } from './rest-api-shapes.js';
import type { Ctx, Live } from './types.js';

/** What the WebSocket API should look like (routes, their integrations, models, stage), and how the live one is read for comparison. */

export interface WebSocketApiLive extends Live {
  id: string;
  api: { RouteSelectionExpression?: string; ApiKeySelectionExpression?: string };
  routes: Route[];
  integrations: Integration[];
  /** By integration id, and by route id. */
  integrationResponses: Record<string, IntegrationResponse[]>;
  routeResponses: Record<string, RouteResponse[]>;
  models: Model[];
  stage?: GetStageResponse;
}

/** API Gateway's `$default` key, escaped as its selection expressions require. */
const DEFAULT_KEY = '$default';
const DEFAULT_SELECTION = '\\$default';
const CONNECT_ROUTE = '$connect';
/** The routes that answer the client (a route response). */
export const TWO_WAY_ROUTES: string[] = [ACTIONS.invoke, ACTIONS.subscribe];

/** The settings of the API itself. */
export const API_SHAPE = { RouteSelectionExpression: ROUTE_SELECTION, ApiKeySelectionExpression: '$request.header.x-api-key' };

export const MODEL_SHAPES = [
  { Name: FRAME_MODELS.invoke, ContentType: JSON_TYPE, Schema: INVOKE_FRAME_SCHEMA },
  { Name: FRAME_MODELS.subscribe, ContentType: JSON_TYPE, Schema: SUBSCRIBE_FRAME_SCHEMA },
];

/** The answer API Gateway gives a frame its integration failed on, as the local target gives it. */
const FAILED_FRAME = '{"message": "Internal server error", "connectionId": "$context.connectionId", "requestId": "$context.requestId"}';
const attribute = (n: number, name: string, value: string) =>
  `&${entry(`MessageAttribute.${n}.Name`)}=${name}&${entry(`MessageAttribute.${n}.Value.DataType`)}=String&${entry(`MessageAttribute.${n}.Value.StringValue`)}=${value}`;

/**
 * `invoke` queues the frame as POST does (SendMessageBatch of one, URL-encoded) with the connection
 * in an attribute. A WebSocket request id is not a UUID (`Gto5mE7jDoEFj7Q=`), so without the
 * client's own id the entry Id is that id made valid, and the request's id is the SQS message id,
 * which the worker takes when no `bq-request-id` attribute says otherwise.
 */
export const INVOKE_TEMPLATE = oneLine(
  "#set($id = $input.path('$.id'))",
  "#if(\"$!id\" == \"\")#set($entry = $context.requestId.replaceAll('[^A-Za-z0-9_-]', ''))#{else}#set($id = $id.toLowerCase())#set($entry = $id)#{end}",
  `Action=SendMessageBatch&${entry('Id')}=$entry&${entry('MessageBody')}=$util.urlEncode($input.body)`,
  attribute(1, CONNECTION_ATTRIBUTE, '$util.urlEncode($context.connectionId)'),
  `#if("$!id" != "")${attribute(2, REQUEUE_ATTRIBUTES.requestId, '$id')}#{end}`,
);

/** The entry's Id when it is the client's id, else the message id: the id the worker will use. */
export const ACCEPTED_FRAME_TEMPLATE = oneLine(
  "#if($input.body.contains('<SendMessageBatchResultEntry>'))",
  `#set($id = ${xmlField('SendMessageBatchResultEntry', 'Id')})`,
  `#if(!$id.matches('${REQUEST_ID_PATTERN.source}'))#set($id = ${xmlField('SendMessageBatchResultEntry', 'MessageId')})#{end}`,
  '{"type":"accepted","id":"$id"}',
  `#{else}${FAILED_FRAME}#{end}`,
);

/** `subscribe`: the one UpdateItem of stream-contract's subscribeUpdate, with the frame's id and the connection. */
export const SUBSCRIBE_TEMPLATE = (table: string, ttlSeconds: number) => oneLine(
  "#set($id = $input.path('$.id').toLowerCase())",
  `#set($expires = $context.requestTimeEpoch / 1000 + ${ttlSeconds})`,
  JSON.stringify(subscribeUpdate(table, '$id', '$context.connectionId', '$expires')),
);

/**
 * The item as it is after the subscribe: its record (inline when it surely fits in a message,
 * else where to GET it), or `subscribed` while there is none. Only the id and the record are read:
 * the other listeners never reach a reply.
 */
export const SUBSCRIBED_FRAME_TEMPLATE = oneLine(
  `#set($id = $input.path('$.Attributes.${RESULT_ITEM.key}.S'))`,
  `#set($record = $input.path('$.Attributes.${RESULT_ITEM.record}.S'))`,
  `#set($expires = $input.path('$.Attributes.${RESULT_ITEM.expiresAt}.N'))`,
  `#if("$!id" == "")${FAILED_FRAME}`,
  '#elseif("$!record" == "" || ("$!expires" != "" && $util.parseJson($expires) < $context.requestTimeEpoch / 1000))',
  '{"type":"subscribed","id":"$id"}',
  `#elseif($record.length() > ${INLINE_RECORD_MAX_CHARS})`,
  `{"type":"result","id":"$id","location":"${RESULTS_PATH}/$id"}`,
  '#{else}{"type":"result","id":"$id","record":$record}#{end}',
);

export interface RouteShape {
  route: {
    RouteKey: string;
    ApiKeyRequired: boolean;
    AuthorizationType: 'NONE';
    ModelSelectionExpression?: string;
    RequestModels?: Record<string, string>;
    RouteResponseSelectionExpression?: string;
  };
  integration: {
    IntegrationType: 'AWS' | 'MOCK';
    IntegrationMethod?: string;
    IntegrationUri?: string;
    CredentialsArn?: string;
    RequestParameters?: Record<string, string>;
    RequestTemplates: Record<string, string>;
    TemplateSelectionExpression: string;
    PassthroughBehavior: 'NEVER' | 'WHEN_NO_MATCH';
  };
  /** Integration responses by key (a non-proxy integration needs one at least), and whether the route answers the client (a two-way route). */
  responses: Record<string, { ResponseTemplates?: Record<string, string>; TemplateSelectionExpression?: string }>;
  twoWay: boolean;
}

/** A two-way route on an AWS integration, its frame checked against the route's model first. */
function serviceRoute(ctx: Ctx, action: keyof typeof FRAME_MODELS, uri: string, request: string, reply: string, parameters?: Record<string, string>): RouteShape {
  return {
    route: {
      RouteKey: ACTIONS[action], ApiKeyRequired: false, AuthorizationType: 'NONE',
      ModelSelectionExpression: ROUTE_SELECTION, RequestModels: { [ACTIONS[action]]: FRAME_MODELS[action] },
      RouteResponseSelectionExpression: DEFAULT_KEY,
    },
    integration: {
      IntegrationType: 'AWS', IntegrationMethod: 'POST', IntegrationUri: uri, CredentialsArn: roleArn(ctx, ctx.names.apiRole),
      ...(parameters ? { RequestParameters: parameters } : {}),
      RequestTemplates: { [DEFAULT_KEY]: request }, TemplateSelectionExpression: DEFAULT_SELECTION, PassthroughBehavior: 'NEVER',
    },
    responses: { [DEFAULT_KEY]: { ResponseTemplates: { [DEFAULT_KEY]: reply }, TemplateSelectionExpression: DEFAULT_SELECTION } },
    twoWay: true,
  };
}

/** The routes: `$connect` checks the key (API keys are checked on connecting only), `invoke` and `subscribe`. */
export function routeShapes(ctx: Ctx): RouteShape[] {
  return [
    {
      route: { RouteKey: CONNECT_ROUTE, ApiKeyRequired: ctx.settings.apiKeyRequired, AuthorizationType: 'NONE' },
      // WHEN_NO_MATCH: API Gateway's default, written out so that a live API compares equal.
      integration: { IntegrationType: 'MOCK', RequestTemplates: { [DEFAULT_KEY]: '{"statusCode": 200}' }, TemplateSelectionExpression: DEFAULT_SELECTION, PassthroughBehavior: 'WHEN_NO_MATCH' },
      // Nothing to say back: the handshake's 101 is the answer (a one-way route).
      responses: { [DEFAULT_KEY]: {} },
      twoWay: false,
    },
    serviceRoute(ctx, 'invoke', requestsQueueUri(ctx), INVOKE_TEMPLATE, ACCEPTED_FRAME_TEMPLATE, SQS_REQUEST_PARAMETERS),
    serviceRoute(ctx, 'subscribe', integrationUri(ctx, 'dynamodb', 'action/UpdateItem'), SUBSCRIBE_TEMPLATE(ctx.names.resultsTable, ctx.settings.resultsTtl), SUBSCRIBED_FRAME_TEMPLATE),
  ];
}

/** A live route as a RouteShape, for comparison (undefined when the route is missing). */
export function liveRouteShape(live: WebSocketApiLive, routeKey: string): RouteShape | undefined {
  const route = live.routes.find((r) => r.RouteKey === routeKey);
  if (!route) return undefined;
  const integration = integrationOf(live.integrations, route);
  return {
    route: {
      RouteKey: route.RouteKey!, ApiKeyRequired: route.ApiKeyRequired ?? false, AuthorizationType: route.AuthorizationType as 'NONE',
      ModelSelectionExpression: route.ModelSelectionExpression, RequestModels: route.RequestModels, RouteResponseSelectionExpression: route.RouteResponseSelectionExpression,
    },
    integration: {
      IntegrationType: integration?.IntegrationType as 'AWS', IntegrationMethod: integration?.IntegrationMethod, IntegrationUri: integration?.IntegrationUri,
      CredentialsArn: integration?.CredentialsArn, RequestParameters: integration?.RequestParameters, RequestTemplates: integration?.RequestTemplates ?? {},
      TemplateSelectionExpression: integration?.TemplateSelectionExpression ?? '', PassthroughBehavior: integration?.PassthroughBehavior as 'NEVER',
    },
    responses: Object.fromEntries((integration ? live.integrationResponses[integration.IntegrationId!] ?? [] : [])
      .map((r) => [r.IntegrationResponseKey!, { ResponseTemplates: r.ResponseTemplates, TemplateSelectionExpression: r.TemplateSelectionExpression }])),
    twoWay: (live.routeResponses[route.RouteId!] ?? []).some((r) => r.RouteResponseKey === DEFAULT_KEY),
  };
}

/** The integration a route's Target names (integrations have no names of their own). */
export function integrationOf(integrations: Integration[], route: Route | undefined): Integration | undefined {
  const id = route?.Target?.replace(/^integrations\//, '');
  return id ? integrations.find((i) => i.IntegrationId === id) : undefined;
}

export const DEFAULT_ROUTE_RESPONSE = DEFAULT_KEY;

/** The stage's throttle: its default route settings, the same limits as the REST stage's. */
export function stageShape(ctx: Ctx) {
  return { ThrottlingRateLimit: ctx.settings.rateLimit, ThrottlingBurstLimit: ctx.settings.burstLimit };
}

export function liveStageShape(stage: GetStageResponse | undefined) {
  return stage && { ThrottlingRateLimit: stage.DefaultRouteSettings?.ThrottlingRateLimit, ThrottlingBurstLimit: stage.DefaultRouteSettings?.ThrottlingBurstLimit };
}
