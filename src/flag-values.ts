import { UsageError } from './errors.js';

/** Parsers of flag values, as yargs coercers: undefined (the flag was not given) passes through. */

/** A number written in decimal (1, 0.5, -2): not 0x10, 1e3, '' or NaN, which Number() would take. */
export function decimal(value: unknown): number {
  const text = String(value).trim();
  return /^-?\d+(\.\d+)?$/.test(text) ? Number(text) : NaN;
}

/** A decimal number from min to max (say 0 to 1 for a temperature). */
export function numberIn(flag: string, min: number, max: number) {
  return (value: unknown) => {
    if (value === undefined) return undefined;
    const n = decimal(value);
    if (!(n >= min && n <= max)) throw new UsageError(`--${flag} must be a number from ${min} to ${max} (got ${String(value)})`);
    return n;
  };
}

/** A whole number from min to max; `name` is how the error names it (an option, or a positional). */
export function integerIn(flag: string, min: number, max: number, name = `--${flag}`) {
  return (value: unknown) => {
    if (value === undefined) return undefined;
    const n = /^-?\d+$/.test(String(value).trim()) ? Number(value) : NaN;
    if (!Number.isInteger(n) || n < min || n > max) throw new UsageError(`${name} must be a whole number from ${min} to ${max} (got ${String(value)})`);
    return n;
  };
}

/** Parses durations such as 500ms, 30s, 5m, 1h or 1d (a bare number is seconds) into milliseconds. */
export function duration(flag: string) {
  return (value: unknown) => {
    if (value === undefined) return undefined;
    const match = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)?$/.exec(String(value).trim());
    if (!match) throw new UsageError(`--${flag} must be a duration such as 30s, 5m, 1h or 1d (got ${String(value)})`);
    const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[(match[2] ?? 's') as 'ms' | 's' | 'm' | 'h' | 'd'];
    return Number(match[1]) * unit;
  };
}

/** A whole number of days, hours or minutes (7d, 12h, 90m), as seconds, from `min` to `max` seconds. */
export function period(flag: string, min: number, max: number) {
  return (value: unknown) => {
    if (value === undefined) return undefined;
    const match = /^(\d+)(d|h|m)$/.exec(String(value).trim());
    const seconds = match ? Number(match[1]) * { d: 86_400, h: 3_600, m: 60 }[match[2] as 'd' | 'h' | 'm'] : NaN;
    if (!(seconds >= min && seconds <= max)) throw new UsageError(`--${flag} must be a whole number of days, hours or minutes such as 7d, 12h or 90m, from ${min / 3600} hour to ${max / 86_400} days (got ${String(value)})`);
    return seconds;
  };
}

/** Parses repeated key=value flags into an object, with limits on their count and lengths. */
export function keyValues(flag: string, limits: { maxCount: number; maxKey: number; maxValue: number }, check?: (key: string, value: string) => string | undefined) {
  return (values?: string[]) => {
    if (values === undefined) return undefined;
    if (values.length > limits.maxCount) throw new UsageError(`--${flag} can be given at most ${limits.maxCount} times`);
    const pairs: Record<string, string> = {};
    for (const v of values) {
      const [key, ...rest] = String(v).split('=');
      const value = rest.join('=');
      if (!key || !rest.length || [...key].length > limits.maxKey || [...value].length > limits.maxValue) {
        throw new UsageError(`--${flag} "${v}" must be key=value (key of 1 to ${limits.maxKey} characters; value at most ${limits.maxValue})`);
      }
      const problem = check?.(key, value);
      if (problem) throw new UsageError(`--${flag} "${v}": ${problem}`);
      pairs[key] = value;
    }
    return pairs;
  };
}
