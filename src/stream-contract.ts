import { CLIENT_ID_PATTERN, REQUEST_BODY_SCHEMA, RESULT_ITEM, RESULTS_PATH, validateInvokeRequest } from './contract.js';

/**
 * The WebSocket protocol, the same on AWS (an API Gateway WebSocket API) and on the local target:
 * routes chosen by the frame's `action`, the frames a client receives, and API Gateway's limits.
 * README, "The WebSocket API".
 */

/** What API Gateway routes on: `$request.body.action`. */
export const ROUTE_SELECTION = '$request.body.action';
export const ACTIONS = { invoke: 'invoke', subscribe: 'subscribe' } as const;
/** The message attribute of a request sent over a socket: the connection its answer goes to. */
export const CONNECTION_ATTRIBUTE = 'bq-connection-id';

/** API Gateway's WebSocket limits: a message (frame) of 128 KB, 10 minutes idle, 2 hours at most. */
export const MAX_MESSAGE_BYTES = 128 * 1024;
export const IDLE_TIMEOUT_MS = 10 * 60_000;
export const MAX_CONNECTION_MS = 2 * 3600_000;

/** The API's request models, by route (API Gateway model names are alphanumeric). */
export const FRAME_MODELS = { invoke: 'InvokeFrame', subscribe: 'SubscribeFrame' } as const;

/** `invoke`: the body of POST /invokeModel with `"action": "invoke"`. */
export const INVOKE_FRAME_SCHEMA = {
  ...REQUEST_BODY_SCHEMA,
  title: 'InvokeFrame',
  required: ['action', 'prompt'],
  properties: { action: { type: 'string', enum: [ACTIONS.invoke] }, ...REQUEST_BODY_SCHEMA.properties },
} as const;

/** `subscribe`: the id of a request sent any way (POST, `send`, `batch`, `invoke`). */
export const SUBSCRIBE_FRAME_SCHEMA = {
  $schema: 'http://json-schema.org/draft-04/schema#',
  title: 'SubscribeFrame',
  type: 'object',
  required: ['action', 'id'],
  additionalProperties: false,
  properties: { action: { type: 'string', enum: [ACTIONS.subscribe] }, id: { type: 'string', pattern: CLIENT_ID_PATTERN } },
} as const;

/** The problems with a frame on its route, empty when it satisfies the route's schema. */
export function validateFrame(action: string, frame: Record<string, unknown>): string[] {
  const { action: _, ...rest } = frame;
  if (action === ACTIONS.invoke) return validateInvokeRequest(rest);
  const problems = Object.keys(rest).filter((k) => k !== 'id').map((k) => `unknown property "${k}"`);
  if (typeof rest.id !== 'string' || !new RegExp(CLIENT_ID_PATTERN).test(rest.id)) problems.push('"id" must be a UUID (8-4-4-4-12 hexadecimal digits)');
  return problems;
}

/**
 * What `subscribe` writes to the results store, in one UpdateItem: the connection joins the
 * request's listeners, and the item answers as it is after the write. Either the record is there
 * (it goes back at once), or the worker's PutItem that stores it later returns this listener with
 * the item it replaces: no moment lets a result pass between the two. An item a subscribe creates
 * for a request not stored yet expires as a result would.
 */
export function subscribeUpdate(table: string, id: string, connectionId: string, expiresAtSeconds: number | string) {
  return {
    TableName: table,
    Key: { [RESULT_ITEM.key]: { S: id } },
    UpdateExpression: 'ADD #listeners :connection SET #expires = if_not_exists(#expires, :expires)',
    ExpressionAttributeNames: { '#listeners': RESULT_ITEM.listeners, '#expires': RESULT_ITEM.expiresAt },
    ExpressionAttributeValues: { ':connection': { SS: [connectionId] }, ':expires': { N: String(expiresAtSeconds) } },
    ReturnValues: 'ALL_NEW' as const,
  };
}

/** The frames a client receives. `result` carries the record exactly as GET /results/{id} returns it. */
export type Frame =
  | { type: 'accepted'; id: string }
  | { type: 'subscribed'; id: string }
  | { type: 'result'; id: string; record: unknown }
  | { type: 'result'; id: string; part: number; parts: number; data: string }
  | { type: 'result'; id: string; location: string };

/**
 * The reply to `subscribe` is one message, and API Gateway's templates count characters, not
 * bytes: a stored record of up to this many characters (3 bytes at most each, as JSON text) comes
 * inline; a longer one as a frame that names where to GET it.
 */
export const INLINE_RECORD_MAX_CHARS = Math.floor((MAX_MESSAGE_BYTES - 256) / 3);

/** The `subscribe` reply for a stored record, the same from API Gateway's template and the local target. */
export function subscribeReply(id: string, record: string): string {
  if (record.length <= INLINE_RECORD_MAX_CHARS) return `{"type":"result","id":"${id}","record":${record}}`;
  return `{"type":"result","id":"${id}","location":"${RESULTS_PATH}/${id}"}`;
}

/** Room in a frame for what surrounds a part's data: type, id, numbers, and the escapes JSON may add. */
const PART_ENVELOPE_BYTES = 256;

/**
 * The frames of a stored record: one `{"type": "result", "id", "record"}` with the record's own
 * bytes when it fits in an API Gateway message, else numbered parts whose `data`, joined in order,
 * is the record's text (a stored record may be near DynamoDB's 400 KB).
 */
export function resultFrames(id: string, record: string): string[] {
  const whole = `{"type":"result","id":"${id}","record":${record}}`;
  if (Buffer.byteLength(whole) <= MAX_MESSAGE_BYTES) return [whole];
  const pieces: string[] = [];
  let current = '';
  let size = 0;
  for (const char of record) {
    // A character's size once in a JSON string: escapes may take up to 6 bytes.
    const cost = Buffer.byteLength(JSON.stringify(char)) - 2;
    if (size + cost > MAX_MESSAGE_BYTES - PART_ENVELOPE_BYTES) {
      pieces.push(current);
      current = '';
      size = 0;
    }
    current += char;
    size += cost;
  }
  pieces.push(current);
  return pieces.map((data, i) => JSON.stringify({ type: 'result', id, part: i + 1, parts: pieces.length, data }));
}

/** Joins the parts of a record (frames of one id, in any order) once all have come; undefined until then. */
export function joinParts(frames: { part: number; parts: number; data: string }[]): string | undefined {
  const parts = frames[0]?.parts;
  if (!parts || frames.length < parts) return undefined;
  return [...frames].sort((a, b) => a.part - b.part).map((f) => f.data).join('');
}
