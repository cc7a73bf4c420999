/**
 * What `batch --discount` reads before it plans, on the local target: Bedrock's GetFoundationModel
 * for the local model, and Service Quotas' ListAWSDefaultServiceQuotas and GetServiceQuota (AWS's
 * JSON 1.1 protocol), listing the batch quotas AWS lists per model, at AWS's default values. A local
 * run reads and plans by them as a run on AWS does.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { DISCOUNT_LIMITS } from '../../client/discount-records.js';
import { LOCAL_ACCOUNT } from '../../contract.js';
import { batchQuotasOf } from '../../operate/discount-quotas.js';
import { readBody, sendAwsError, sendJson } from './http.js';

const TARGET_PREFIX = 'ServiceQuotasV20190624.';
const FOUNDATION_MODEL = /^\/foundation-models\/(.+)$/;

export class LocalQuotas {
  private readonly quotas: { ServiceCode: string; QuotaCode: string; QuotaName: string; Value: number; Adjustable: boolean }[];

  constructor(private readonly modelId: string) {
    this.quotas = batchQuotasOf(this.modelName, DISCOUNT_LIMITS).map(({ name, value }, i) => ({ ServiceCode: 'bedrock', QuotaCode: `L-10CA1${String(i).padStart(3, '0')}`, QuotaName: name, Value: value, Adjustable: true }));
  }

  private get modelName() {
    return `Local ${this.modelId}`;
  }

  /** Bedrock's GET /foundation-models/{id} is answered here, with Service Quotas' calls. */
  answers(req: IncomingMessage): boolean {
    return req.method === 'GET' && FOUNDATION_MODEL.test(new URL(req.url ?? '/', 'http://local').pathname);
  }

  /** Bedrock's GET /foundation-models/{id}, for the local model. */
  private foundationModel(res: ServerResponse, id: string) {
    if (id !== this.modelId) return sendAwsError(res, 400, 'ValidationException', 'The provided model identifier is invalid.');
    sendJson(res, { modelDetails: { modelArn: `arn:aws:bedrock:${LOCAL_ACCOUNT.region}::foundation-model/${id}`, modelId: id, modelName: this.modelName, providerName: 'bedrock-queue', inferenceTypesSupported: ['ON_DEMAND'] } });
  }

  /** Service Quotas' JSON 1.1 operations that the discount route calls, and Bedrock's GetFoundationModel. */
  async serve(req: IncomingMessage, res: ServerResponse) {
    const model = FOUNDATION_MODEL.exec(new URL(req.url ?? '/', 'http://local').pathname);
    if (req.method === 'GET' && model) return this.foundationModel(res, decodeURIComponent(model[1]!));
    const operation = String(req.headers['x-amz-target'] ?? '').slice(TARGET_PREFIX.length);
    const input = JSON.parse((await readBody(req))?.toString('utf8') || '{}') as { ServiceCode?: string; QuotaCode?: string; MaxResults?: number; NextToken?: string };
    const answer = (body: unknown) => {
      res.writeHead(200, { 'content-type': 'application/x-amz-json-1.1' });
      res.end(JSON.stringify(body));
    };
    const listed = input.ServiceCode === 'bedrock' ? this.quotas : [];
    if (operation === 'ListAWSDefaultServiceQuotas') {
      const from = Number(input.NextToken ?? 0);
      const to = from + (input.MaxResults ?? 100);
      return answer({ Quotas: listed.slice(from, to), ...(to < listed.length ? { NextToken: String(to) } : {}) });
    }
    if (operation === 'GetServiceQuota') {
      const quota = listed.find((q) => q.QuotaCode === input.QuotaCode);
      return quota ? answer({ Quota: quota }) : sendAwsError(res, 400, 'NoSuchResourceException', `The request failed because the specified service quota ${input.QuotaCode} does not exist.`);
    }
    sendAwsError(res, 400, 'UnknownOperationException', `Unknown operation ${operation || '(no X-Amz-Target)'}`);
  }
}
