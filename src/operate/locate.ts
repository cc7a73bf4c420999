import { GetApiKeyCommand, GetApiKeysCommand, GetRestApisCommand } from '@aws-sdk/client-api-gateway';
import { GetQueueUrlCommand, ListQueueTagsCommand } from '@aws-sdk/client-sqs';
import { STACK_TAG, invokeUrl, websocketUrl, type QueueRole, type ResourceNames } from '../contract.js';
import { CliError } from '../errors.js';
import { orMissing } from '../provision/diff.js';
import { findByName } from '../provision/api-gateway.js';
import { findWebSocketApi } from '../provision/websocket-api.js';
import type { Ctx } from '../provision/types.js';

/** Finds the live parts of a deployed stack that the operator commands need, by name and stack tag. */
export class StackLocator {
  constructor(readonly ctx: Ctx) {}

  private missing(what: string) {
    return new CliError(`Stack ${this.ctx.stack} has no ${what} in ${this.ctx.account.region}: deploy it with "bedrock-queue up --name ${this.ctx.stack}".`);
  }

  /** The invoke URL, and the API key's value when the API requires one: two calls, in parallel. */
  async api(): Promise<{ invokeUrl: string; apiKey?: string }> {
    const { ctx } = this;
    const gw = ctx.clients.apigateway;
    const [{ item: api }, { item: key }] = await Promise.all([
      findByName(ctx, ctx.names.restApi, (position) => gw.send(new GetRestApisCommand({ limit: 500, position }))),
      findByName(ctx, ctx.names.apiKey, (position) => gw.send(new GetApiKeysCommand({ nameQuery: ctx.names.apiKey, includeValues: true, limit: 500, position }))),
    ]);
    if (!api || api.tags?.[STACK_TAG] !== ctx.stack) throw this.missing('REST API');
    const apiKey = key && key.tags?.[STACK_TAG] === ctx.stack ? key.value : undefined;
    return { invokeUrl: invokeUrl(ctx.account.region, api.id!, ctx.emulatorEndpoint), apiKey };
  }

  /**
   * The WebSocket API's URL, when the stack has one this target can reach: none under an emulator
   * (moto serves no WebSockets) or for a stack deployed before it had one. Then callers poll.
   */
  async websocketUrl(): Promise<string | undefined> {
    const { ctx } = this;
    if (ctx.emulatorEndpoint) return undefined;
    const { item: api } = await findWebSocketApi(ctx);
    return api && api.tags?.[STACK_TAG] === ctx.stack ? websocketUrl(ctx.account.region, api.id!) : undefined;
  }

  /** The value of an API key (a secret: printed only where the user asked for it). */
  async apiKeyValue(apiKey: string): Promise<string | undefined> {
    return (await this.ctx.clients.apigateway.send(new GetApiKeyCommand({ apiKey, includeValue: true }))).value;
  }

  async queueUrl(role: QueueRole): Promise<string> {
    const { ctx } = this;
    const name = ctx.names[role as keyof ResourceNames];
    const found = await orMissing(ctx.clients.sqs.send(new GetQueueUrlCommand({ QueueName: name })));
    if (!found?.QueueUrl) throw this.missing(`queue ${name}`);
    const { Tags } = await ctx.clients.sqs.send(new ListQueueTagsCommand({ QueueUrl: found.QueueUrl }));
    if (Tags?.[STACK_TAG] !== ctx.stack) throw new CliError(`Queue ${name} is not tagged for stack ${ctx.stack}: bedrock-queue will not use it.`);
    return found.QueueUrl;
  }
}
