/**
 * The CloudWatch Embedded Metric Format specification's rules for one document, written from the
 * specification (CloudWatch User Guide, "Specification: Embedded metric format"), independently of
 * the worker's code: the problems CloudWatch Logs would reject the document for (none when valid).
 */
const UNITS = new Set([
  'Seconds', 'Microseconds', 'Milliseconds', 'Bytes', 'Kilobytes', 'Megabytes', 'Gigabytes', 'Terabytes', 'Bits', 'Kilobits', 'Megabits', 'Gigabits', 'Terabits',
  'Percent', 'Count', 'Bytes/Second', 'Kilobytes/Second', 'Megabytes/Second', 'Gigabytes/Second', 'Terabytes/Second', 'Bits/Second', 'Kilobits/Second',
  'Megabits/Second', 'Gigabits/Second', 'Terabits/Second', 'Count/Second', 'None',
]);
const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

export function emfProblems(line: string, now = Date.now()): string[] {
  const problems: string[] = [];
  let root: unknown;
  try {
    root = JSON.parse(line);
  } catch {
    return ['the log event is not a JSON object with nothing before or after it'];
  }
  if (!isObject(root)) return ['the root is not an object'];
  const meta = root._aws;
  if (!isObject(meta)) return ['_aws is missing or not an object'];
  if (typeof meta.Timestamp !== 'number' || !Number.isInteger(meta.Timestamp)) problems.push('_aws.Timestamp is not a number of milliseconds since the epoch');
  else if (meta.Timestamp < now - 14 * 24 * 3600_000 || meta.Timestamp > now + 2 * 3600_000) problems.push('_aws.Timestamp is more than two weeks old or two hours ahead');
  if (!Array.isArray(meta.CloudWatchMetrics)) return [...problems, '_aws.CloudWatchMetrics is not an array'];
  for (const [i, directive] of meta.CloudWatchMetrics.entries()) {
    const at = `CloudWatchMetrics[${i}]`;
    if (!isObject(directive)) { problems.push(`${at} is not an object`); continue; }
    const extra = Object.keys(directive).filter((k) => !['Namespace', 'Dimensions', 'Metrics'].includes(k));
    if (extra.length) problems.push(`${at} has members the specification does not define: ${extra.join(', ')}`);
    if (typeof directive.Namespace !== 'string' || !directive.Namespace.length || directive.Namespace.length > 1024) problems.push(`${at}.Namespace is not a string of 1-1024 characters`);
    if (!Array.isArray(directive.Dimensions)) problems.push(`${at}.Dimensions is not an array`);
    else for (const set of directive.Dimensions) {
      if (!Array.isArray(set) || set.length > 30) { problems.push(`${at}: a DimensionSet is not an array of at most 30 names`); continue; }
      for (const name of set) {
        const value = root[name as string];
        if (typeof name !== 'string') problems.push(`${at}: a dimension name is not a string`);
        else if (typeof value !== 'string' || !value.length || value.length > 1024) problems.push(`${at}: dimension ${name} has no string value of 1-1024 characters at the root`);
      }
    }
    if (!Array.isArray(directive.Metrics) || directive.Metrics.length > 100) { problems.push(`${at}.Metrics is not an array of at most 100 definitions`); continue; }
    for (const definition of directive.Metrics) {
      if (!isObject(definition) || typeof definition.Name !== 'string' || !definition.Name.length || definition.Name.length > 1024) { problems.push(`${at}: a MetricDefinition has no Name`); continue; }
      const extraMembers = Object.keys(definition).filter((k) => !['Name', 'Unit', 'StorageResolution'].includes(k));
      if (extraMembers.length) problems.push(`${at}: MetricDefinition ${definition.Name} has undefined members ${extraMembers.join(', ')}`);
      if (definition.Unit !== undefined && !UNITS.has(definition.Unit as string)) problems.push(`${at}: ${definition.Name} has unit ${String(definition.Unit)}, not a CloudWatch unit`);
      if (definition.StorageResolution !== undefined && definition.StorageResolution !== 1 && definition.StorageResolution !== 60) problems.push(`${at}: ${definition.Name} has a StorageResolution other than 1 or 60`);
      const value = root[definition.Name];
      const numbers = Array.isArray(value) ? value : [value];
      if (numbers.length > 100 || !numbers.every((n) => typeof n === 'number' && Number.isFinite(n))) problems.push(`${at}: ${definition.Name} has no number (or array of at most 100 numbers) at the root`);
    }
  }
  return problems;
}
