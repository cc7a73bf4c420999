import {
  CreateApiKeyCommand,
  DeleteApiKeyCommand,
  GetApiKeysCommand,
  TagResourceCommand,
  UpdateApiKeyCommand,
} from '@aws-sdk/client-api-gateway';
import { apiGatewayArn } from './arns.js';
import { change } from './diff.js';
import { apiCall, findByName } from './api-gateway.js';
import type { Live, Resource } from './types.js';

export interface ApiKeyLive extends Live {
  id: string;
  enabled: boolean;
}

export const apiKey: Resource<ApiKeyLive> = {
  key: 'api-key',
  kind: 'API key',
  name: (ctx) => ctx.names.apiKey,
  async read(ctx) {
    const { item: key, duplicates } = await findByName(ctx, ctx.names.apiKey, (position) =>
      ctx.clients.apigateway.send(new GetApiKeysCommand({ nameQuery: ctx.names.apiKey, includeValues: false, limit: 500, position })));
    if (!key) return undefined;
    return { id: key.id!, enabled: key.enabled ?? false, tags: key.tags ?? {}, duplicates: duplicates.map((d) => d.id!) };
  },
  ids: (_ctx, live) => ({ apiKeyId: live.id }),
  diff: (ctx, live) => change('enabled', live.enabled, true, async () => {
    await apiCall(ctx, () => ctx.clients.apigateway.send(new UpdateApiKeyCommand({ apiKey: live.id, patchOperations: [{ op: 'replace', path: '/enabled', value: 'true' }] })));
  }),
  async create(ctx) {
    const created = await apiCall(ctx, () => ctx.clients.apigateway.send(new CreateApiKeyCommand({
      name: ctx.names.apiKey,
      description: `bedrock-queue stack ${ctx.stack}`,
      enabled: true,
      tags: ctx.tags,
    })));
    return { apiKeyId: created.id! };
  },
  async tag(ctx, live, tags) {
    await apiCall(ctx, () => ctx.clients.apigateway.send(new TagResourceCommand({ resourceArn: apiGatewayArn(ctx, 'apikeys', live.id), tags })));
  },
  async remove(ctx, live) {
    await apiKey.removeDuplicate!(ctx, live.id);
  },
  async removeDuplicate(ctx, id) {
    await apiCall(ctx, () => ctx.clients.apigateway.send(new DeleteApiKeyCommand({ apiKey: id })));
  },
};
