/**
 * The Converse request a queued request becomes, and the text of a Converse answer: one shape for the
 * worker's real-time call and for a record of Bedrock batch inference (`batch --discount`), whose
 * job reads each record's `modelInput` as a Converse request body and writes the answer as its
 * `modelOutput`.
 */
import type { InvokeRequest } from './contract.js';

/** What the stack fills in where a request says nothing. */
export interface ConverseDefaults {
  maxTokens: number;
  temperature?: number;
}

export interface ConverseBody {
  messages: { role: 'user'; content: { text: string }[] }[];
  system?: { text: string }[];
  inferenceConfig: { maxTokens: number; temperature?: number };
}

export function converseBody(request: InvokeRequest, defaults: ConverseDefaults): ConverseBody {
  const temperature = request.temperature ?? defaults.temperature;
  return {
    messages: [{ role: 'user', content: [{ text: request.prompt }] }],
    ...(request.system ? { system: [{ text: request.system }] } : {}),
    inferenceConfig: { maxTokens: request.maxTokens ?? defaults.maxTokens, ...(temperature !== undefined ? { temperature } : {}) },
  };
}

/** A Converse answer's text: its text blocks joined. */
export function converseText(answer: { output?: { message?: { content?: { text?: string }[] } } } | undefined): string {
  return (answer?.output?.message?.content ?? []).map((block) => block.text ?? '').join('');
}
