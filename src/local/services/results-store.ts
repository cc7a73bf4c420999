import { dynamoError } from './sqs-wire.js';
import type { JournalSink } from './sqs-service.js';

/** A DynamoDB attribute value, as the JSON protocol carries it (the store keeps strings and numbers). */
export type AttributeValue = { S: string } | { N: string };
export type Item = Record<string, AttributeValue>;

type Params = Record<string, unknown>;

const validation = (message: string) => dynamoError('ValidationException', message, 'com.amazon.coral.validate');
const tableMissing = () => dynamoError('ResourceNotFoundException', 'Requested resource not found');
const conditionFailed = () => dynamoError('ConditionalCheckFailedException', 'The conditional request failed');

/** The one condition form the worker writes with: `attribute_not_exists(#a) OR #b <> :v`. */
const CONDITION = /^attribute_not_exists\((#\w+)\) OR (#\w+) <> (:\w+)$/;

/**
 * The results table of the local target: the part of DynamoDB the pipeline uses (PutItem with the
 * worker's condition, GetItem, BatchGetItem), with DynamoDB's answer shapes and error names, every
 * write journaled before it is acknowledged. Any other expression is refused, never guessed at.
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

  private allowed(existing: Item | undefined, params: Params): boolean {
    const expression = params.ConditionExpression;
    if (expression === undefined) return true;
    const match = CONDITION.exec(String(expression).trim());
    if (!match) throw validation(`The local results store evaluates only the worker's condition (attribute_not_exists(#a) OR #b <> :v), not: ${String(expression)}`);
    const names = (params.ExpressionAttributeNames ?? {}) as Record<string, string>;
    const values = (params.ExpressionAttributeValues ?? {}) as Record<string, AttributeValue>;
    const [, absent, compared, value] = match;
    const absentName = names[absent!];
    const comparedName = names[compared!];
    const expected = values[value!];
    if (!absentName || !comparedName || !expected) throw validation('Value provided in ExpressionAttributeNames or ExpressionAttributeValues unused or missing in expressions');
    if (!existing || !(absentName in existing)) return true;
    return JSON.stringify(existing[comparedName]) !== JSON.stringify(expected);
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
        if (!this.allowed(this.items.get(id), p)) throw conditionFailed();
        this.items.set(id, item);
        await this.journal?.write({ op: 'item', table: this.table, item }, true);
        return {};
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
