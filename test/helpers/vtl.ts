/**
 * API Gateway's mapping templates rendered by an independent Velocity engine (velocityjs), with
 * the parts of API Gateway's template context the templates use: $input (params, path, body),
 * $util (escapeJavaScript, urlEncode, parseJson), $context (requestId, requestTimeEpoch, responseOverride),
 * and strings that behave as Java's (matches, contains, replaceAll, toLowerCase; the regular
 * expressions are those Java and JavaScript read alike).
 */
import { render } from 'velocityjs';

/** A Java String as VTL sees one: the methods the templates call, with Java's semantics. */
class JavaString {
  constructor(private readonly value: string) {}
  toString() {
    return this.value;
  }
  matches(regex: string) {
    return new RegExp(`^(?:${regex})$`).test(this.value);
  }
  contains(part: string) {
    return this.value.includes(String(part));
  }
  replaceAll(regex: string, replacement: string) {
    return new JavaString(this.value.replace(new RegExp(String(regex), 'g'), String(replacement)));
  }
  toLowerCase() {
    return new JavaString(this.value.toLowerCase());
  }
  /** Java counts UTF-16 code units, as JavaScript does. */
  length() {
    return this.value.length;
  }
}

const java = (value: unknown) => (typeof value === 'string' ? new JavaString(value) : value);

/** $input.path: a JSONPath of the form $.a.b.c into the body. */
function jsonPath(body: unknown, path: string): unknown {
  return path.replace(/^\$\.?/, '').split('.').filter(Boolean).reduce<unknown>((at, key) => (at && typeof at === 'object' ? (at as Record<string, unknown>)[key] : undefined), body);
}

/** AWS's $util.escapeJavaScript: JavaScript string escapes, `'` included (which JSON does not take). */
function escapeJavaScript(value: unknown): JavaString {
  const text = String(value ?? '');
  return new JavaString(text.replace(/[\\"'\n\r\t]/g, (c) => ({ '\\': '\\\\', '"': '\\"', "'": "\\'", '\n': '\\n', '\r': '\\r', '\t': '\\t' })[c]!));
}

export interface Rendered {
  body: string;
  status?: number;
  headers: Record<string, string>;
}

export function renderTemplate(template: string, request: { params?: Record<string, string>; body?: unknown; requestTimeEpoch?: number; requestId?: string; connectionId?: string }): Rendered {
  const responseOverride: { status?: number; header: Record<string, string> } = { header: {} };
  const bodyText = typeof request.body === 'string' ? request.body : JSON.stringify(request.body ?? {});
  const parsed = typeof request.body === 'string' ? (() => { try { return JSON.parse(request.body); } catch { return undefined; } })() : request.body;
  const body = render(template, {
    input: {
      params: (name: string) => java(request.params?.[name] ?? ''),
      path: (path: string) => java(jsonPath(parsed, path)),
      body: new JavaString(bodyText),
    },
    util: { escapeJavaScript, urlEncode: (v: unknown) => encodeURIComponent(String(v)), parseJson: (v: unknown) => JSON.parse(String(v)) as unknown },
    context: { requestId: new JavaString(request.requestId ?? 'req-1'), connectionId: request.connectionId, requestTimeEpoch: request.requestTimeEpoch ?? Date.now(), responseOverride },
  });
  return { body, ...(responseOverride.status !== undefined ? { status: Number(responseOverride.status) } : {}), headers: responseOverride.header };
}
