import {
  CreateApiKeyCommand,
  DeleteApiKeyCommand,
  GetApiKeysCommand,
  TagResourceCommand,
  UpdateApiKeyCommand,
} from '@aws-sdk/client-api-gateway';
import { STACK_TAG } from '../contract.js';
import { change, missingTags, tagChanges } from './diff.js';
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
    const tags = key.tags ?? {};
    if (tags[STACK_TAG] === ctx.stack) ctx.ids.apiKeyId = key.id!;
    return { id: key.id!, enabled: key.enabled ?? false, tags, duplicates: duplicates.map((d) => d.id!) };
  },
  diff: (ctx, live) => [...change('enabled', live.enabled, true), ...tagChanges(ctx.tags, live.tags)],
  async create(ctx) {
    const created = await apiCall(ctx, () => ctx.clients.apigateway.send(new CreateApiKeyCommand({
      name: ctx.names.apiKey,
      description: `bedrock-queue stack ${ctx.stack}`,
      enabled: true,
      tags: ctx.tags,
    })));
    ctx.ids.apiKeyId = created.id!;
  },
  async update(ctx, live) {
    if (!live.enabled) {
      await apiCall(ctx, () => ctx.clients.apigateway.send(new UpdateApiKeyCommand({ apiKey: live.id, patchOperations: [{ op: 'replace', path: '/enabled', value: 'true' }] })));
    }
    const tags = missingTags(ctx.tags, live.tags);
    if (Object.keys(tags).length) {
      const resourceArn = `arn:${ctx.account.partition}:apigateway:${ctx.account.region}::/apikeys/${live.id}`;
      await apiCall(ctx, () => ctx.clients.apigateway.send(new TagResourceCommand({ resourceArn, tags })));
    }
  },
  async remove(ctx, live) {
    await apiKey.removeDuplicate!(ctx, live.id);
  },
  async removeDuplicate(ctx, id) {
    await apiCall(ctx, () => ctx.clients.apigateway.send(new DeleteApiKeyCommand({ apiKey: id })));
  },
};
