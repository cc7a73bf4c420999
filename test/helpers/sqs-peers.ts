import { afterAll, beforeAll } from 'vitest';
import { startSqsServer, type SqsServer } from '../../src/local/services/sqs-dynamodb-server.js';
import { startMoto, type Moto } from './moto.js';

/** moto and the local SQS server side by side for a describe block (the differential tests' two peers). */
export function sqsPeers(): { moto: () => Moto; local: () => SqsServer } {
  let moto: Moto | undefined;
  let local: SqsServer | undefined;
  beforeAll(async () => {
    [moto, local] = await Promise.all([startMoto({ gaps: false }), startSqsServer()]);
  }, 60_000);
  afterAll(async () => {
    await Promise.all([moto?.stop(), local?.close()]);
  });
  return { moto: () => moto!, local: () => local! };
}
