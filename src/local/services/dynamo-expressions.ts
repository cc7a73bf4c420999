import { dynamoError } from './sqs-wire.js';

/** A DynamoDB attribute value, as the JSON protocol carries it (the store keeps strings, numbers and string sets). */
export type AttributeValue = { S: string } | { N: string } | { SS: string[] };
export type Item = Record<string, AttributeValue>;

export interface Placeholders {
  names: Record<string, string>;
  values: Record<string, AttributeValue>;
}

const validation = (message: string) => dynamoError('ValidationException', message, 'com.amazon.coral.validate');

/**
 * The part of DynamoDB's expression language the pipeline writes with: conditions of
 * attribute_exists / attribute_not_exists and comparisons (= <> < <= > >=) joined by AND, OR, NOT
 * and parentheses; updates of SET #a = :v or if_not_exists(#a, :v), REMOVE #a and ADD #set :strings.
 * Names and values only as placeholders.
 * Anything else is a ValidationException, as an expression DynamoDB cannot parse is.
 */
function tokens(expression: string): string[] {
  const found = expression.match(/\(|\)|,|<>|<=|>=|=|<|>|#\w+|:\w+|[A-Za-z_]+|\S/g) ?? [];
  return found;
}

/** A parsed condition, evaluated against an item (absent: no item) and the request's placeholders. */
type Test = (item: Item | undefined, p: Placeholders) => boolean;

class Parser {
  private at = 0;
  readonly used = { names: new Set<string>(), values: new Set<string>() };

  constructor(private readonly list: string[], private readonly source: string) {}

  peek() {
    return this.list[this.at];
  }

  take(expected?: string): string {
    const token = this.list[this.at++];
    if (token === undefined || (expected !== undefined && token.toUpperCase() !== expected)) {
      throw validation(`Invalid expression: Syntax error; token: "${token ?? '<EOF>'}", near: "${this.source}"`);
    }
    return token;
  }

  done() {
    if (this.at < this.list.length) this.take('<EOF>');
  }

  name(): string {
    const token = this.take();
    if (!token.startsWith('#')) throw validation(`Invalid expression: the local results store takes attribute names as #placeholders only; got "${token}"`);
    this.used.names.add(token);
    return token;
  }

  private operand(): { name: string } | { value: string } {
    if (this.peek()?.startsWith(':')) {
      const value = this.take();
      this.used.values.add(value);
      return { value };
    }
    return { name: this.name() };
  }

  /** condition := and (OR and)*; and := factor (AND factor)* */
  condition(): Test {
    return this.joined('OR', () => this.joined('AND', () => this.factor()));
  }

  /** Parts parsed by `part` between the word `joiner`: any of them (OR) or all (AND) must hold. */
  private joined(joiner: 'OR' | 'AND', part: () => Test): Test {
    const parts = [part()];
    while (this.peek()?.toUpperCase() === joiner) {
      this.take();
      parts.push(part());
    }
    return joiner === 'OR' ? (item, p) => parts.some((t) => t(item, p)) : (item, p) => parts.every((t) => t(item, p));
  }

  private factor(): Test {
    const token = this.peek();
    if (token === '(') {
      this.take();
      const inner = this.condition();
      this.take(')');
      return inner;
    }
    if (token?.toUpperCase() === 'NOT') {
      this.take();
      const inner = this.factor();
      return (item, p) => !inner(item, p);
    }
    if (token === 'attribute_exists' || token === 'attribute_not_exists') {
      this.take();
      this.take('(');
      const name = this.name();
      this.take(')');
      const wanted = token === 'attribute_exists';
      return (item, p) => (!!item && p.names[name]! in item) === wanted;
    }
    const left = this.operand();
    const op = this.take();
    if (!['=', '<>', '<', '<=', '>', '>='].includes(op)) throw validation(`Invalid expression: Syntax error; token: "${op}", near: "${this.source}"`);
    const right = this.operand();
    return (item, p) => compare(resolve(left, item, p), op, resolve(right, item, p));
  }
}

function resolve(operand: { name: string } | { value: string }, item: Item | undefined, p: Placeholders): AttributeValue | undefined {
  return 'value' in operand ? p.values[operand.value] : item?.[p.names[operand.name]!];
}

/** A comparison with a missing attribute, or between types, is false, as in DynamoDB. */
function compare(a: AttributeValue | undefined, op: string, b: AttributeValue | undefined): boolean {
  if (!a || !b) return op === '<>' ? !!a !== !!b : false;
  const [x, y] = 'N' in a && 'N' in b ? [Number(a.N), Number(b.N)] : 'S' in a && 'S' in b ? [a.S, b.S] : [undefined, undefined];
  if (x === undefined || y === undefined) return op === '<>';
  switch (op) {
    case '=': return x === y;
    case '<>': return x !== y;
    case '<': return x < y;
    case '<=': return x <= y;
    case '>': return x > y;
    default: return x >= y;
  }
}

export interface Expressions {
  condition?: (item: Item | undefined) => boolean;
  update?: (item: Item) => Item;
}

/** Parses a request's ConditionExpression and UpdateExpression, checking that every placeholder given is used and every one used is given. */
export function parseExpressions(params: Record<string, unknown>): Expressions {
  const p: Placeholders = {
    names: (params.ExpressionAttributeNames ?? {}) as Record<string, string>,
    values: (params.ExpressionAttributeValues ?? {}) as Record<string, AttributeValue>,
  };
  const used = { names: new Set<string>(), values: new Set<string>() };
  const collect = (parser: Parser) => {
    parser.used.names.forEach((n) => used.names.add(n));
    parser.used.values.forEach((v) => used.values.add(v));
  };
  const out: Expressions = {};
  if (params.ConditionExpression !== undefined) {
    const source = String(params.ConditionExpression);
    const parser = new Parser(tokens(source), source);
    const condition = parser.condition();
    parser.done();
    collect(parser);
    out.condition = (item) => condition(item, p);
  }
  if (params.UpdateExpression !== undefined) {
    const source = String(params.UpdateExpression);
    const parser = new Parser(tokens(source), source);
    const sets: { name: string; value: string; ifMissing: boolean }[] = [];
    const removes: string[] = [];
    const adds: [string, string][] = [];
    const placeholderValue = () => {
      const value = parser.take();
      if (!value.startsWith(':')) throw validation(`Invalid UpdateExpression: the local results store takes values from :placeholders only; got "${value}"`);
      parser.used.values.add(value);
      return value;
    };
    while (parser.peek()) {
      const clause = parser.take().toUpperCase();
      if (clause !== 'SET' && clause !== 'REMOVE' && clause !== 'ADD') throw validation(`Invalid UpdateExpression: the local results store takes SET, REMOVE and ADD, not ${clause}`);
      for (let more = true; more; more = parser.peek() === ',' && !!parser.take(',')) {
        const name = parser.name();
        if (clause === 'REMOVE') removes.push(name);
        else if (clause === 'ADD') adds.push([name, placeholderValue()]);
        else {
          parser.take('=');
          const ifMissing = parser.peek() === 'if_not_exists';
          if (ifMissing) {
            parser.take();
            parser.take('(');
            if (parser.name() !== name) throw validation('Invalid UpdateExpression: the local results store takes if_not_exists on the attribute being set only');
            parser.take(',');
          }
          sets.push({ name, value: placeholderValue(), ifMissing });
          if (ifMissing) parser.take(')');
        }
      }
    }
    collect(parser);
    out.update = (item) => {
      const next = { ...item };
      for (const { name, value, ifMissing } of sets) if (!ifMissing || !(p.names[name]! in next)) next[p.names[name]!] = p.values[value]!;
      for (const name of removes) delete next[p.names[name]!];
      for (const [name, value] of adds) {
        const added = p.values[value]!;
        const had = next[p.names[name]!];
        if (!('SS' in added) || (had && !('SS' in had))) throw validation('An operand in the update expression has an incorrect data type');
        next[p.names[name]!] = { SS: [...new Set([...(had && 'SS' in had ? had.SS : []), ...added.SS])] };
      }
      return next;
    };
  }
  const unusedNames = Object.keys(p.names).filter((n) => !used.names.has(n));
  const unusedValues = Object.keys(p.values).filter((v) => !used.values.has(v));
  if (unusedNames.length) throw validation(`Value provided in ExpressionAttributeNames unused in expressions: keys: {${unusedNames.join(', ')}}`);
  if (unusedValues.length) throw validation(`Value provided in ExpressionAttributeValues unused in expressions: keys: {${unusedValues.join(', ')}}`);
  const missing = [...used.names].filter((n) => !(n in p.names)).concat([...used.values].filter((v) => !(v in p.values)));
  if (missing.length) throw validation(`An expression attribute name or value used in an expression is not defined: ${missing.join(', ')}`);
  return out;
}
