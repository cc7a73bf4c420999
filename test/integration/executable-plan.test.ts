/**
 * What `up` shows is what it does: after drift made by hand, the dry run lists exactly that drift,
 * `up` makes exactly the mutating calls that the drift needs (counted at the wire, behind the
 * AWS-behaviour proxy), and a second `up` makes none.
 */
import { APIGatewayClient, GetRestApisCommand, GetResourcesCommand, GetUsagePlansCommand, PutIntegrationResponseCommand, UpdateUsagePlanCommand } from '@aws-sdk/client-api-gateway';
import { ApiGatewayV2Client, GetApisCommand, GetRoutesCommand, UpdateRouteCommand } from '@aws-sdk/client-apigatewayv2';
import { IAMClient, UntagRoleCommand } from '@aws-sdk/client-iam';
import { GetQueueUrlCommand, SetQueueAttributesCommand, SQSClient } from '@aws-sdk/client-sqs';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { bedrockControlPlane, deploymentKeepsStageSettings } from '../helpers/aws-behaviours.js';
import { startAwsProxy, type AwsProxy, type Recorded } from '../helpers/aws-proxy.js';
import { requireMoto, startMoto, type Moto } from '../helpers/moto.js';

const REGION = 'us-east-1';
const ACCOUNT = '123456789012';
const credentials = { AWS_ACCESS_KEY_ID: 'testing', AWS_SECRET_ACCESS_KEY: 'testing' };
const hasMoto = requireMoto();

/** A call that changes something: REST calls other than GET, JSON and query calls other than reads. */
function mutation(r: Recorded): string | undefined {
  if (r.service === 'sts') return undefined;
  const named = !/^(GET|PUT|POST|PATCH|DELETE) \//.test(r.operation);
  if (named) return /^(Get|List|Describe)/.test(r.operation) ? undefined : `${r.service}:${r.operation}`;
  if (r.method === 'GET') return undefined;
  // REST paths carry ids: keep the shape, drop the ids.
  return `${r.service}:${r.method} ${r.path.replace(/\/v2\/apis\/\w+/, '/v2/apis/{ws}').replace(/\/integrations\/\w+/, '/integrations/{integration}').replace(/\/integrationresponses\/\w+/, '/integrationresponses/{response}').replace(/\/routes\/\w+/, '/routes/{route}').replace(/\/restapis\/\w+/, '/restapis/{api}').replace(/\/resources\/\w+/, '/resources/{resource}').replace(/\/usageplans\/\w+/, '/usageplans/{plan}')}`;
}

describe.runIf(hasMoto)('the executable plan (moto behind the AWS-behaviour proxy)', () => {
  let moto: Moto;
  let proxy: AwsProxy;
  // The same flags every time: the stack's settings, and a tag the drift takes away.
  const cli = (...args: string[]) => runCli([...args, '--region', REGION, '--endpoint-url', proxy.endpoint, '--name', 'itest', '--json', '--tag', 'team=ml', '--rate-limit', '40'], credentials);
  const up = async (...args: string[]) => {
    const run = await cli('up', ...args);
    expect(run.code, run.stderr).toBe(0);
    return JSON.parse(run.stdout) as { changed: number; calls: { mutations: number }; plan: { key: string; action: string; changes: { field: string; live: unknown; desired: unknown }[] }[] };
  };
  const client = <T>(Client: new (c: object) => T) => new Client({ region: REGION, endpoint: moto.endpoint, credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' } });

  beforeAll(async () => {
    moto = await startMoto();
  });
  afterAll(async () => moto?.stop());
  beforeEach(async () => {
    await moto.reset();
    proxy = await startAwsProxy(moto.endpoint, [bedrockControlPlane(ACCOUNT), deploymentKeepsStageSettings()]);
  });
  afterEach(async () => proxy.close());

  it('lists exactly the drift made by hand, repairs exactly it, then has nothing to do', async () => {
    expect((await up()).changed).toBe(13);

    // Five kinds of drift, made behind bedrock-queue's back; one of them opens the WebSocket API to anyone.
    const v2 = client(ApiGatewayV2Client);
    const ws = (await v2.send(new GetApisCommand({}))).Items!.find((a) => a.Name === 'itest-ws')!;
    const connect = (await v2.send(new GetRoutesCommand({ ApiId: ws.ApiId }))).Items!.find((r) => r.RouteKey === '$connect')!;
    await v2.send(new UpdateRouteCommand({ ApiId: ws.ApiId, RouteId: connect.RouteId, ApiKeyRequired: false }));
    const sqs = client(SQSClient);
    const { QueueUrl } = await sqs.send(new GetQueueUrlCommand({ QueueName: 'itest-requests' }));
    await sqs.send(new SetQueueAttributesCommand({ QueueUrl, Attributes: { VisibilityTimeout: '30' } }));
    await client(IAMClient).send(new UntagRoleCommand({ RoleName: 'itest-api', TagKeys: ['team'] }));
    const gw = client(APIGatewayClient);
    const plan = (await gw.send(new GetUsagePlansCommand({}))).items!.find((p) => p.name === 'itest')!;
    await gw.send(new UpdateUsagePlanCommand({ usagePlanId: plan.id, patchOperations: [{ op: 'replace', path: '/throttle/rateLimit', value: '5' }] }));
    const api = (await gw.send(new GetRestApisCommand({}))).items!.find((a) => a.name === 'itest')!;
    const resource = (await gw.send(new GetResourcesCommand({ restApiId: api.id }))).items!.find((r) => r.path === '/invokeModel')!;
    const handEdited = '{"message": "edited by hand"}';
    await gw.send(new PutIntegrationResponseCommand({
      restApiId: api.id, resourceId: resource.id, httpMethod: 'POST', statusCode: '500', selectionPattern: '5\\d{2}',
      responseTemplates: { 'application/json': handEdited }, responseParameters: { 'method.response.header.Access-Control-Allow-Origin': "'*'" },
    }));

    proxy.recorded.length = 0;
    const dryRun = await up('--dry-run');
    const changed = dryRun.plan.filter((i) => i.action !== 'unchanged').map((i) => [i.key, i.changes]);
    expect(changed).toEqual([
      ['api-role', [{ field: 'tags', live: {}, desired: { team: 'ml' } }]],
      ['websocket-api', [
        { field: 'route $connect.route.ApiKeyRequired', live: false, desired: true },
        { field: 'stage prod.deployment', live: 'without these changes', desired: 'with them' },
      ]],
      ['requests-queue', [{ field: 'VisibilityTimeout', live: '30', desired: '720' }]],
      ['rest-api', [
        { field: 'POST.integration.integrationResponses.500.responseTemplates.application/json', live: handEdited, desired: expect.stringContaining('The queue is unavailable; try again') },
        { field: 'stage prod.deployment', live: 'without these changes', desired: 'with them' },
      ]],
      ['usage-plan', [{ field: 'throttle.rateLimit', live: 5, desired: 40 }]],
    ]);
    expect(proxy.recorded.map(mutation).filter(Boolean)).toEqual([]);

    proxy.recorded.length = 0;
    const repaired = await up();
    expect(repaired.changed).toBe(5);
    expect(proxy.recorded.map(mutation).filter(Boolean)).toEqual([
      'iam:TagRole',
      // A route is put whole: its integration and integration response, then the route pointing at it.
      'apigateway:PATCH /v2/apis/{ws}/integrations/{integration}',
      'apigateway:PATCH /v2/apis/{ws}/integrations/{integration}/integrationresponses/{response}',
      'apigateway:PATCH /v2/apis/{ws}/routes/{route}',
      'apigateway:POST /v2/apis/{ws}/deployments',
      'sqs:SetQueueAttributes',
      // The method is put again whole: API Gateway has no call that replaces one integration response in place.
      'apigateway:DELETE /restapis/{api}/resources/{resource}/methods/POST',
      'apigateway:PUT /restapis/{api}/resources/{resource}/methods/POST',
      ...Array(3).fill('apigateway:PUT /restapis/{api}/resources/{resource}/methods/POST/responses/' as string).map((p, i) => `${p}${['202', '400', '500'][i]}`),
      'apigateway:PUT /restapis/{api}/resources/{resource}/methods/POST/integration',
      ...['202', '400', '500'].map((code) => `apigateway:PUT /restapis/{api}/resources/{resource}/methods/POST/integration/responses/${code}`),
      'apigateway:POST /restapis/{api}/deployments',
      'apigateway:PATCH /usageplans/{plan}',
    ]);

    proxy.recorded.length = 0;
    const again = await up();
    expect(again.changed).toBe(0);
    expect(again.calls.mutations).toBe(0);
    expect(proxy.recorded.map(mutation).filter(Boolean)).toEqual([]);
    // The repair deployed to the stage, and the stage kept its throttling, as on AWS.
    expect(proxy.fired.DeploymentKeepsStageSettings).toBeGreaterThan(0);
  }, 180_000);
});
