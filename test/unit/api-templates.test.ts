/**
 * The REST API's mapping templates, rendered by an independent Velocity engine with API Gateway's
 * template context (test/helpers/vtl.ts): bodies exactly what they carry, whatever newlines an
 * engine keeps; the GET's DynamoDB request valid JSON for any id; DynamoDB's errors mapped.
 */
import { describe, expect, it } from 'vitest';
import { RESULT_MESSAGES } from '../../src/contract.js';
import { ACCEPTED_TEMPLATE, EXPOSE_HEADERS_HEADER, JSON_TYPE, SEND_MESSAGE_TEMPLATE, gatewayResponseShapes, GET_ITEM_TEMPLATE, RESULT_TEMPLATE, STORE_ERROR_TEMPLATE, getResultShape, postShape } from '../../src/provision/rest-api-shapes.js';
import type { Ctx } from '../../src/provision/types.js';
import { resourceNames } from '../../src/contract.js';
import { renderTemplate } from '../helpers/vtl.js';

const ID = '2c9de0d2-25c7-4397-99d4-5b9d4d70fcfe';
const OTHER_ID = '7f1b3c2a-0d4e-4f5a-8b6c-9d0e1f2a3b4c';

describe('the API\'s templates', () => {
  /** SendMessageBatch's answers in the XML of the SQS API reference's examples. */
  const batchAnswer = (entry: string) => `<?xml version="1.0"?><SendMessageBatchResponse xmlns="http://queue.amazonaws.com/doc/2012-11-05/"><SendMessageBatchResult>${entry}</SendMessageBatchResult><ResponseMetadata><RequestId>ca1d1c8b-5e2a-4c1d-9a4e-0d6c8f5a1b2c</RequestId></ResponseMetadata></SendMessageBatchResponse>`;
  const accepted = (id: string) => batchAnswer(`<SendMessageBatchResultEntry><Id>${id}</Id><MessageId>0a5231c7-8bff-4955-be2e-8dc7c50a25fa</MessageId><MD5OfMessageBody>0e024d309850c78cba5eabbeff7cae71</MD5OfMessageBody></SendMessageBatchResultEntry>`);
  const refused = (senderFault: boolean) => batchAnswer(`<BatchResultErrorEntry><Id>${ID}</Id><Code>${senderFault ? 'InvalidMessageContents' : 'InternalError'}</Code><Message>no</Message><SenderFault>${senderFault}</SenderFault></BatchResultErrorEntry>`);
  const form = (body: string) => Object.fromEntries(new URLSearchParams(body));

  it('queue the body byte for byte as a batch of one whose entry Id is the client\'s id, lowered, also in an attribute', () => {
    const body = `{"id": "${ID.toUpperCase()}", "prompt": "a & b = c + d 'q' \\"dq\\" é 🚀"}`;
    const sent = form(renderTemplate(SEND_MESSAGE_TEMPLATE, { body, requestId: OTHER_ID }).body);
    expect(sent).toEqual({
      Action: 'SendMessageBatch',
      'SendMessageBatchRequestEntry.1.Id': ID,
      'SendMessageBatchRequestEntry.1.MessageBody': body,
      'SendMessageBatchRequestEntry.1.MessageAttribute.1.Name': 'bq-request-id',
      'SendMessageBatchRequestEntry.1.MessageAttribute.1.Value.DataType': 'String',
      'SendMessageBatchRequestEntry.1.MessageAttribute.1.Value.StringValue': ID,
    });
  });

  it('give a request without an id the API\'s own request id', () => {
    const sent = form(renderTemplate(SEND_MESSAGE_TEMPLATE, { body: '{"prompt": "hi"}', requestId: OTHER_ID }).body);
    expect(sent['SendMessageBatchRequestEntry.1.Id']).toBe(OTHER_ID);
    expect(sent['SendMessageBatchRequestEntry.1.MessageAttribute.1.Value.StringValue']).toBe(OTHER_ID);
  });

  it('answer POST with exactly {"id": ...} of the entry SQS took, and the Location of the result', () => {
    const out = renderTemplate(ACCEPTED_TEMPLATE, { body: accepted(ID) });
    expect(out).toEqual({ body: `{"id": "${ID}"}`, headers: { Location: `results/${ID}` } });
  });

  it('turn the 200 of a batch whose entry SQS refused into 400 (the request\'s fault) or 500 (SQS\'s)', () => {
    const sender = renderTemplate(ACCEPTED_TEMPLATE, { body: refused(true), requestId: OTHER_ID });
    expect(sender.status).toBe(400);
    expect(JSON.parse(sender.body)).toEqual({ message: 'The queue rejected the request', requestId: OTHER_ID });
    const server = renderTemplate(ACCEPTED_TEMPLATE, { body: refused(false) });
    expect(server.status).toBe(500);
    expect(JSON.parse(server.body)).toMatchObject({ message: 'The queue is unavailable; try again' });
    expect(server.headers).toEqual({});
  });

  it('ask SQS for XML, the answer whose element names its API reference documents', () => {
    const ctx = { names: resourceNames('demo'), settings: { corsOrigin: '*', apiKeyRequired: true }, account: { accountId: '123456789012', region: 'us-east-1', partition: 'aws' } } as unknown as Ctx;
    expect(postShape(ctx, 'v1').integration.requestParameters).toMatchObject({ 'integration.request.header.Accept': "'application/xml'" });
  });

  it('answer GET with the stored record byte for byte, nothing around it', () => {
    const record = '{"id":"x","status":"ok","output":"  spaced\\n"}';
    const out = renderTemplate(RESULT_TEMPLATE, { params: { id: ID }, body: { Item: { record: { S: record } } } });
    expect(out).toEqual({ body: record, headers: {} });
  });

  it('take a record past its expiresAt for gone (TTL deletes it only within days): 202, as for none', () => {
    const now = Date.UTC(2026, 11, 3, 12);
    const item = (expiresAt: number) => ({ Item: { record: { S: '{"id":"x"}' }, expiresAt: { N: String(expiresAt) } } });
    expect(renderTemplate(RESULT_TEMPLATE, { params: { id: ID }, body: item(now / 1000 - 1), requestTimeEpoch: now }).status).toBe(202);
    expect(renderTemplate(RESULT_TEMPLATE, { params: { id: ID }, body: item(now / 1000 + 60), requestTimeEpoch: now })).toEqual({ body: '{"id":"x"}', headers: {} });
  });

  it('answer 202 with Retry-After while there is no record (a claimed request has none)', () => {
    const out = renderTemplate(RESULT_TEMPLATE, { params: { id: ID }, body: { Item: { id: { S: ID }, status: { S: 'claimed' } } } });
    expect(out.status).toBe(202);
    expect(out.headers).toEqual({ 'Retry-After': '2' });
    expect(JSON.parse(out.body)).toEqual({ id: ID, status: 'pending' });
  });

  it('send DynamoDB valid JSON for any id, a quote included, so that what is not an id is a 400', () => {
    for (const id of ["x'y", 'a"b\\c', ID]) {
      const request = JSON.parse(renderTemplate(GET_ITEM_TEMPLATE('demo-results'), { params: { id } }).body) as { Key: { id: { S: string } } };
      expect(request.Key.id.S).toBe(id);
    }
    const answer = renderTemplate(RESULT_TEMPLATE, { params: { id: "x'y" }, body: {} });
    expect(answer.status).toBe(400);
    expect(JSON.parse(answer.body)).toMatchObject({ message: RESULT_MESSAGES.notAnId });
  });

  it('map DynamoDB\'s errors: throttling 429, a request it cannot read 400, the rest 500', () => {
    const status = (type: string) => renderTemplate(STORE_ERROR_TEMPLATE, { body: { __type: `com.amazonaws.dynamodb.v20120810#${type}` } }).status;
    expect(status('ProvisionedThroughputExceededException')).toBe(429);
    expect(status('ValidationException')).toBeUndefined();
    expect(status('SerializationException')).toBeUndefined();
    expect(status('AccessDeniedException')).toBe(500);
    expect(JSON.parse(renderTemplate(STORE_ERROR_TEMPLATE, { body: { __type: 'com.amazon.coral.service#SerializationException' } }).body)).toMatchObject({ message: RESULT_MESSAGES.notAnId });
  });
});

describe('the API\'s CORS', () => {
  const ctx = { account: { partition: 'aws', region: 'us-east-1', accountId: '123456789012' }, names: resourceNames('demo'), settings: { corsOrigin: '*', apiKeyRequired: true } } as unknown as Ctx;

  it('lets browsers read Location on a 202 and Retry-After on a 202 or 429 (Access-Control-Expose-Headers)', () => {
    const post = postShape(ctx, 'val1');
    expect(post.methodResponses['202']!.responseParameters[EXPOSE_HEADERS_HEADER]).toBe(false);
    expect(post.integration.integrationResponses['202']!.responseParameters[EXPOSE_HEADERS_HEADER]).toBe("'Location'");
    const get = getResultShape(ctx);
    for (const code of ['202', '429']) expect(get.methodResponses[code]!.responseParameters).toHaveProperty([EXPOSE_HEADERS_HEADER], false);
    // The 200 and 400 integration responses are the ones a template turns into 202 and 429.
    for (const code of ['200', '400']) expect(get.integration.integrationResponses[code]!.responseParameters[EXPOSE_HEADERS_HEADER]).toBe("'Retry-After'");
  });
});

describe('the API\'s gateway responses', () => {
  const ctx = { account: { partition: 'aws', region: 'us-east-1', accountId: '123456789012' }, names: resourceNames('demo'), settings: { corsOrigin: '*', apiKeyRequired: true } } as unknown as Ctx;

  it('use only simple variable substitution, which is all API Gateway does with them: no $util, no $input, no directive', () => {
    const templates = Object.entries(gatewayResponseShapes(ctx)).map(([type, shape]) => [type, shape.responseTemplates[JSON_TYPE]!] as const);
    expect(templates.map(([type]) => type)).toContain('BAD_REQUEST_BODY');
    for (const [type, template] of templates) {
      expect(template, type).not.toMatch(/#|\$util|\$input|\(/);
      for (const variable of template.match(/\$[A-Za-z.]+/g) ?? []) expect(variable, type).toMatch(/^\$context\.error\.(messageString|validationErrorString)$/);
    }
  });
});
