import { PostToConnectionCommand, type ApiGatewayManagementApiClient } from '@aws-sdk/client-apigatewaymanagementapi';
import { resultFrames } from '../stream-contract.js';

/** A stored record and the connections waiting for it. */
export interface Delivery {
  id: string;
  stored: string;
  connections: Iterable<string>;
}

/** API Gateway's answers to a PostToConnection that a later try may get through: its rate limits. */
const PASSING = new Set(['LimitExceededException', 'TooManyRequestsException', 'ThrottlingException']);
const TRIES = 4;
const pauseMs = (attempt: number) => 100 * 2 ** attempt;

export interface PushTally {
  frames: number;
  /** Connections that had closed (GoneException): dropped, the record stays readable by id. */
  gone: number;
  /** Connections a frame could not reach for another reason, after the tries. */
  failed: number;
}

export type Sleep = (ms: number) => Promise<unknown>;
const realSleep: Sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/**
 * One frame to one connection (PostToConnection): 'gone' when the connection has closed; a
 * throttled post is tried again, up to `tries` times in all.
 */
export async function postFrame(client: ApiGatewayManagementApiClient, connection: string, frame: string, tries = TRIES, sleep: Sleep = realSleep): Promise<'sent' | 'gone' | 'failed'> {
  for (let attempt = 1; ; attempt++) {
    try {
      await client.send(new PostToConnectionCommand({ ConnectionId: connection, Data: Buffer.from(frame) }));
      return 'sent';
    } catch (err) {
      const name = (err as Error).name;
      if (name === 'GoneException') return 'gone';
      if (!PASSING.has(name) || attempt >= tries) return 'failed';
      await sleep(pauseMs(attempt));
    }
  }
}

/**
 * Posts each record to its connections, in frames that fit API Gateway's messages. A connection
 * that is gone is dropped; a throttled post is tried again. Nothing here changes a request's
 * outcome: its record is stored and published before, and stays readable by id whatever happens.
 */
export async function pushResults(client: ApiGatewayManagementApiClient, deliveries: Delivery[], sleep: Sleep = realSleep): Promise<PushTally> {
  const tally: PushTally = { frames: 0, gone: 0, failed: 0 };
  await Promise.all(deliveries.flatMap(({ id, stored, connections }) => {
    const frames = resultFrames(id, stored);
    return [...new Set(connections)].map(async (connection) => {
      for (const frame of frames) {
        const posted = await postFrame(client, connection, frame, TRIES, sleep);
        if (posted === 'sent') tally.frames++;
        else {
          tally[posted]++;
          return;
        }
      }
    });
  }));
  return tally;
}
