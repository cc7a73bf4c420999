// Zero-latency stand-ins for Bedrock Runtime (Converse), SQS (JSON protocol, SendMessageBatch) and,
// on the same port, DynamoDB (PutItem), run in their own process so the benchmark measures only the
// worker's CPU.
import { createHash } from 'node:crypto';
import { createServer as createHttp } from 'node:http';

const answer = JSON.stringify({
  output: { message: { role: 'assistant', content: [{ text: 'ok' }] } },
  stopReason: 'end_turn',
  usage: { inputTokens: 1, outputTokens: 1, totalTokens: 2 },
  metrics: { latencyMs: 0 },
});
const model = createHttp((req, res) => {
  req.resume();
  req.on('end', () => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(answer);
  });
});
const sqs = createHttp((req, res) => {
  let raw = '';
  req.on('data', (d) => (raw += d));
  req.on('end', () => {
    const body = JSON.parse(raw || '{}');
    res.writeHead(200, { 'content-type': 'application/x-amz-json-1.0' });
    if (String(req.headers['x-amz-target']).startsWith('DynamoDB_20120810.')) return res.end('{}');
    // The SDK checks each MD5OfMessageBody, as against SQS itself.
    const md5 = (text) => createHash('md5').update(text).digest('hex');
    res.end(JSON.stringify({ Successful: (body.Entries ?? []).map((e) => ({ Id: e.Id, MessageId: 'm', MD5OfMessageBody: md5(e.MessageBody) })), Failed: [] }));
  });
});
await new Promise((r) => model.listen(0, '127.0.0.1', r));
await new Promise((r) => sqs.listen(0, '127.0.0.1', r));
process.send({ model: `http://127.0.0.1:${model.address().port}`, sqs: `http://127.0.0.1:${sqs.address().port}` });
