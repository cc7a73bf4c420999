/**
 * What moto 5.2.1's API Gateway v2 lacks, answered as the API reference documents it, from what
 * passed through the proxy: GetModels, GetRouteResponses, UpdateStage and CreateDeployment (moto
 * has no route for the first two and no handler for the others); GetStage then shows the stage's
 * settings and deployment. Everything else of the WebSocket API is moto's own.
 * An emulator's gap, filled, never an emulator's quirk copied (shared/notes/emulators.md).
 */
import { json, type AwsAnswer, type Behaviour, type Recorded } from './aws-proxy.js';

const MODELS = /^\/v2\/apis\/([^/]+)\/models(?:\/([^/]+))?$/;
const ROUTE_RESPONSES = /^\/v2\/apis\/([^/]+)\/routes\/([^/]+)\/routeresponses$/;
const STAGE = /^\/v2\/apis\/([^/]+)\/stages\/([^/]+)$/;
const DEPLOYMENTS = /^\/v2\/apis\/([^/]+)\/deployments$/;

const ok = (r: Recorded) => r.answer.status < 300;
const answered = (r: Recorded) => JSON.parse(r.answer.body || '{}') as Record<string, unknown>;

/** The models of an API as CreateModel answered them, with the schemas UpdateModel put since. */
function modelsOf(history: Recorded[], apiId: string) {
  const models = new Map<string, Record<string, unknown>>();
  for (const r of history) {
    const match = MODELS.exec(r.path);
    if (!match || match[1] !== apiId || !ok(r)) continue;
    if (r.method === 'POST') models.set(String(answered(r).modelId), answered(r));
    if (r.method === 'PATCH' && match[2] && models.has(match[2])) Object.assign(models.get(match[2])!, r.params);
    if (r.method === 'DELETE' && match[2]) models.delete(match[2]);
  }
  return [...models.values()];
}

/** What UpdateStage put on the stage and which deployment CreateDeployment released to it, latest last. */
function stageUpdates(history: Recorded[], apiId: string, stageName: string) {
  return history.filter((r) => ok(r) && ((r.method === 'PATCH' && STAGE.exec(r.path)?.slice(1, 3).join('/') === `${apiId}/${stageName}`) ||
    (r.method === 'POST' && DEPLOYMENTS.exec(r.path)?.[1] === apiId && r.params.stageName === stageName)))
    .map((r) => (r.method === 'PATCH' ? r.params : { deploymentId: answered(r).deploymentId }));
}

export function motoApiGatewayV2Gaps(): Behaviour {
  return {
    name: 'MotoApiGatewayV2Gaps',
    respond(req, history) {
      if (req.service !== 'apigateway') return undefined;
      const models = MODELS.exec(req.path);
      if (models && !models[2] && req.method === 'GET') return json({ items: modelsOf(history, models[1]!) });
      const responses = ROUTE_RESPONSES.exec(req.path);
      if (responses && req.method === 'GET') {
        const items = history.filter((r) => r.method === 'POST' && ok(r) && r.path === req.path).map(answered);
        return json({ items });
      }
      const stage = STAGE.exec(req.path);
      if (stage && req.method === 'PATCH') return json({ stageName: stage[2], ...req.params });
      const deployments = DEPLOYMENTS.exec(req.path);
      if (deployments && req.method === 'POST') {
        return json({ deploymentId: `dep${history.length}`, deploymentStatus: 'DEPLOYED', autoDeployed: false, description: req.params.description }, 201);
      }
      return undefined;
    },
    rewrite(req, answer, history): AwsAnswer | undefined {
      const stage = STAGE.exec(req.path);
      if (req.service !== 'apigateway' || !stage || req.method !== 'GET' || answer.status !== 200) return undefined;
      const updates = stageUpdates(history, stage[1]!, stage[2]!);
      return updates.length ? json(Object.assign(JSON.parse(answer.body) as Record<string, unknown>, ...updates)) : undefined;
    },
  };
}
