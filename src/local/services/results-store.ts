import { isExpired } from '../../contract.js';
import { parseExpressions, type Item } from './dynamo-expressions.js';
import { dynamoError } from './sqs-wire.js';
import type { JournalSink } from './sqs-service.js';


type Params = Record<string, unknown>;

const validation = (message: string) => dynamoError('ValidationException', message, 'com.amazon.coral.validate');
const tableMissing = () => dynamoError('ResourceNotFoundException', 'Requested resource not found');
const conditionFailed = () => dynamoError('ConditionalCheckFailedException', 'The conditional request failed');

/**
 * The results table of the local target: the part of DynamoDB the pipeline uses (PutItem and
 * UpdateItem with conditions, ALL_OLD and ALL_NEW, GetItem, BatchGetItem), with DynamoDB's answer shapes and error names,
 * every write journaled before it is acknowledged. An expression outside the subset that
 * dynamo-expressions.ts evaluates is refused, never guessed at.
 */
export class ResultsStore {
  private readonly items = new Map<string, Item>();

  constructor(readonly table: string, readonly key: string, private readonly journal?: JournalSink) {}

  private checkTable(name: unknown) {
    if (name !== this.table) throw tableMissing();
  }

  private keyOf(item: Params | undefined): string {
    const value = (item?.[this.key] as { S?: unknown } | undefined)?.S;
    if (typeof value !== 'string' || !value) throw validation(`One or more parameter values were invalid: Missing the key ${this.key} in the item`);
    return value;
  }

  /** Applies an item recovered from the journal. */
  restore(item: Item) {
    this.items.set(this.keyOf(item), item);
  }

  /** The item's `attribute` (epoch seconds) has passed: DynamoDB still returns it, readers take it for deleted. */
  expired(id: string, attribute: string, nowMs = Date.now()): boolean {
    return isExpired((this.items.get(id)?.[attribute] as { N?: string } | undefined)?.N, nowMs);
  }

  /** One attribute's string value of the item under `id`, as GetItem with a projection would give it. */
  text(id: string, attribute: string): string | undefined {
    return (this.items.get(id)?.[attribute] as { S?: string } | undefined)?.S;
  }

  all(): Item[] {
    return [...this.items.values()];
  }

  /** Drops items whose TTL attribute has passed (DynamoDB deletes them lazily, within days). */
  expire(attribute: string, nowSeconds = Date.now() / 1000) {
    for (const [id, item] of this.items) {
      const at = (item[attribute] as { N?: string } | undefined)?.N;
      if (at !== undefined && Number(at) < nowSeconds) this.items.delete(id);
    }
  }

  private async write(id: string, item: Item) {
    this.items.set(id, item);
    await this.journal?.write({ op: 'item', table: this.table, item }, true);
  }

  /** Only the attributes a ProjectionExpression names (plain names or #placeholders), as DynamoDB returns them. */
  private project(item: Item, params: Params): Item {
    if (params.ProjectionExpression === undefined) return item;
    const names = (params.ExpressionAttributeNames ?? {}) as Record<string, string>;
    const wanted = String(params.ProjectionExpression).split(',').map((p) => p.trim()).map((p) => (p.startsWith('#') ? names[p] : p));
    if (wanted.some((name) => !name)) throw validation('Value provided in ExpressionAttributeNames unused or missing in expressions');
    return Object.fromEntries(Object.entries(item).filter(([name]) => wanted.includes(name)));
  }

  actions(): Record<string, (params: Params) => unknown> {
    return {
      PutItem: async (p) => {
        this.checkTable(p.TableName);
        const item = p.Item as Item;
        const id = this.keyOf(item);
        const { condition } = parseExpressions(p);
        const existing = this.items.get(id);
        if (condition && !condition(existing)) throw conditionFailed();
        await this.write(id, item);
        return p.ReturnValues === 'ALL_OLD' && existing ? { Attributes: existing } : {};
      },
      // Creates the item when there is none, as DynamoDB's UpdateItem does.
      UpdateItem: async (p) => {
        this.checkTable(p.TableName);
        const key = p.Key as Item;
        const id = this.keyOf(key);
        const { condition, update } = parseExpressions(p);
        const existing = this.items.get(id);
        if (condition && !condition(existing)) throw conditionFailed();
        const next = update ? update({ ...key, ...existing }) : { ...key, ...existing };
        await this.write(id, next);
        return p.ReturnValues === 'ALL_NEW' ? { Attributes: next } : {};
      },
      GetItem: (p) => {
        this.checkTable(p.TableName);
        const item = this.items.get(this.keyOf(p.Key as Params));
        return item ? { Item: this.project(item, p) } : {};
      },
      BatchGetItem: (p) => {
        const requests = (p.RequestItems ?? {}) as Record<string, { Keys?: Params[] } & Params>;
        const Responses: Record<string, Item[]> = {};
        let count = 0;
        for (const [table, request] of Object.entries(requests)) {
          this.checkTable(table);
          const keys = request.Keys ?? [];
          count += keys.length;
          Responses[table] = keys.flatMap((k) => {
            const item = this.items.get(this.keyOf(k));
            return item ? [this.project(item, request)] : [];
          });
        }
        if (count > 100) throw validation('Too many items requested for the BatchGetItem call');
        return { Responses, UnprocessedKeys: {} };
      },
    };
  }
}
