/**
 * The JSON of `value` within `maxBytes` (UTF-8): while it is too long, its text `fields` are cut by
 * a tenth at a time and `flag` is set. Nothing is cut when it fits, or when there is no text to cut.
 */
export function fitJson(value: object, fields: string[], maxBytes: number, flag: object): string {
  let body = JSON.stringify(value);
  if (Buffer.byteLength(body) <= maxBytes) return body;
  const texts = Object.fromEntries(fields.flatMap((f) => {
    const text = (value as Record<string, unknown>)[f];
    return typeof text === 'string' && text ? [[f, text]] : [];
  })) as Record<string, string>;
  while (Buffer.byteLength(body) > maxBytes && Object.values(texts).some((t) => t.length)) {
    for (const f of Object.keys(texts)) texts[f] = texts[f]!.slice(0, Math.floor(texts[f]!.length * 0.9));
    body = JSON.stringify({ ...value, ...flag, ...texts });
  }
  return body;
}
