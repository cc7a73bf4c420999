import type { StackOptions } from '../settings.js';
import type { GlobalArgs } from './options.js';

/** What `up` is given, on AWS and locally (up.ts parses it; up-local.ts runs the local target with it). */
export interface UpArgs extends GlobalArgs, Omit<StackOptions, 'apiKeyRequired' | 'tags'> {
  apiKey?: boolean;
  tag?: Record<string, string>;
  dryRun: boolean;
  skipModelCheck: boolean;
  port?: number;
  detach: boolean;
  modelLatency?: string;
  modelTokenLatency?: string;
  modelRpm?: number;
  modelTpm?: number;
  modelErrorRate?: number;
  modelQuotaWindow?: number;
  modelEndpoint?: string;
  ifModelUnreachable: 'refuse' | 'warn';
  batchSize?: number;
  governorInterval?: number;
  discountDelay?: number;
}
