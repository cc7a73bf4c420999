import { ServiceQuotasClient, type ServiceQuotasClientConfig } from '@aws-sdk/client-service-quotas';
import { instrument, type CallLog } from './call-log.js';

/** The Service Quotas client, in a module of its own: only `batch --discount` loads it. */
export function createServiceQuotasClient(config: ServiceQuotasClientConfig, log: CallLog): ServiceQuotasClient {
  const client = new ServiceQuotasClient(config);
  instrument(client, 'servicequotas', log);
  return client;
}
