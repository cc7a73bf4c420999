// npm run bench: measures the targets of issue #2 and writes them to BENCHMARKS.md.
//  - `bedrock-queue --help` cold start (median of repeated process runs) beside `node -e ''`
//  - cold `up`, converged `up` and `down` against moto_server: API calls and wall time
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { createServer } from 'node:net';

const root = new URL('..', import.meta.url).pathname;
const bin = `${root}bin/bedrock-queue.mjs`;
const RUNS = Number(process.env.BENCH_RUNS ?? 21);

function timeProcess(args) {
  const started = process.hrtime.bigint();
  const result = spawnSync(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' } });
  if (result.status !== 0) throw new Error(`${args.join(' ')} failed: ${result.stderr}`);
  return { ms: Number(process.hrtime.bigint() - started) / 1e6, stdout: result.stdout.toString() };
}

const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

function coldStart() {
  timeProcess(['-e', '']);
  timeProcess([bin, '--help']);
  const node = [];
  const help = [];
  for (let i = 0; i < RUNS; i++) {
    node.push(timeProcess(['-e', '']).ms);
    help.push(timeProcess([bin, '--help']).ms);
  }
  return { node: median(node), help: median(help) };
}

async function freePort() {
  return new Promise((resolve) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

async function againstMoto() {
  if (spawnSync('moto_server', ['--help'], { stdio: 'ignore' }).status !== 0) return undefined;
  const port = await freePort();
  const endpoint = `http://127.0.0.1:${port}`;
  const moto = spawn('moto_server', ['-H', '127.0.0.1', '-p', String(port)], { stdio: 'ignore' });
  try {
    for (let i = 0; ; i++) {
      try {
        if ((await fetch(`${endpoint}/moto-api/`)).ok) break;
      } catch {}
      if (i > 300) throw new Error('moto_server did not start');
      await new Promise((r) => setTimeout(r, 100));
    }
    await fetch(`${endpoint}/moto-api/config`, { method: 'POST', body: JSON.stringify({ lambda: { use_docker: false } }) });
    process.env.AWS_ACCESS_KEY_ID = 'bench';
    process.env.AWS_SECRET_ACCESS_KEY = 'bench';
    const cli = (...args) => {
      const run = timeProcess([bin, ...args, '--name', 'bench', '--region', 'us-east-1', '--endpoint-url', endpoint, '--json', '--yes']);
      const out = JSON.parse(run.stdout);
      return { ms: run.ms, reads: out.calls.reads, mutations: out.calls.mutations };
    };
    const cold = cli('up');
    const converged = [];
    for (let i = 0; i < 5; i++) converged.push(cli('up'));
    const down = cli('down');
    const conv = { ms: median(converged.map((c) => c.ms)), reads: converged[0].reads, mutations: Math.max(...converged.map((c) => c.mutations)) };
    return { cold, converged: conv, down };
  } finally {
    moto.kill('SIGTERM');
  }
}

const start = coldStart();
const moto = await againstMoto();
const ratio = start.help / start.node;
const machine = `${cpus()[0]?.model ?? 'unknown CPU'}, ${cpus().length} cores, ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version}`;
const date = new Date().toISOString().slice(0, 10);
const verdict = (ok) => (ok ? 'met' : '**not met**');

const rows = [
  '| measure | result | target | |',
  '| --- | --- | --- | --- |',
  `| \`node -e ''\` (median of ${RUNS}) | ${start.node.toFixed(0)} ms | | |`,
  `| \`bedrock-queue --help\` (median of ${RUNS}) | ${start.help.toFixed(0)} ms (${ratio.toFixed(2)}x node) | at most 2x node | ${verdict(ratio <= 2)} |`,
];
if (moto) {
  rows.push(
    `| cold \`up\` against moto (whole process) | ${moto.cold.ms.toFixed(0)} ms, ${moto.cold.reads} reads + ${moto.cold.mutations} mutating calls | | |`,
    `| converged \`up\` against moto (median of 5) | ${moto.converged.ms.toFixed(0)} ms, ${moto.converged.reads} reads + ${moto.converged.mutations} mutating calls | 0 mutating, at most 15 reads, under 1.5 s | ${verdict(moto.converged.mutations === 0)} / ${verdict(moto.converged.reads <= 15)} / ${verdict(moto.converged.ms < 1500)} |`,
    `| \`down\` against moto | ${moto.down.ms.toFixed(0)} ms, ${moto.down.reads} reads + ${moto.down.mutations} mutating calls | | |`,
  );
} else {
  rows.push('| against moto | skipped: moto_server not on PATH | | |');
}

const section = `## Provisioning (issue #2)\n\nMeasured ${date} on ${machine} by \`npm run bench\`.\n\n${rows.join('\n')}\n`;
console.log(section);
const file = `${root}BENCHMARKS.md`;
let text;
try {
  text = readFileSync(file, 'utf8');
} catch {
  text = '# Benchmarks\n\nEvery figure here comes from `npm run bench` (bench/run.mjs); each section says when and on what it ran.\n\n';
}
const marker = /## Provisioning \(issue #2\)\n[\s\S]*?(?=\n## |$)/;
text = marker.test(text) ? text.replace(marker, section) : `${text}${section}`;
writeFileSync(file, text);
