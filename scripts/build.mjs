// Builds the CLI (dist/cli.mjs, with the AWS SDK bundled and code-split, so that it loads only in
// the commands that call AWS), the client for applications (dist/client.mjs, `bedrock-queue/client`,
// with its types in dist/types)
// and the worker bundle that `up` zips for Lambda (dist/worker/index.mjs, SDK included but for the
// governor's two clients, which the Lambda runtime provides).
import { execFileSync } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { build } from 'esbuild';

const root = new URL('..', import.meta.url).pathname;
const { version } = JSON.parse(readFileSync(`${root}package.json`, 'utf8'));
rmSync(`${root}dist`, { recursive: true, force: true });

await build({
  absWorkingDir: root,
  entryPoints: { cli: 'src/cli.ts', 'function-host': 'src/local/services/function-host.ts', client: 'src/client/bedrock-queue-client.ts' },
  outdir: 'dist',
  outExtension: { '.js': '.mjs' },
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  // yargs and the AWS SDK are bundled: a few chunks load faster than hundreds of files from
  // node_modules, which keeps --help near plain node; the SDK's chunks load only in the commands
  // that call AWS. ora and ws stay external (loaded only where used; ws by the local stack).
  external: ['ora', 'ws'],
  // The SDK's ES modules (its packages' "module"), not its CommonJS "main": a code-split chunk of a
  // CommonJS package answers import() with its default export alone, and the commands that load
  // a client when they need it (top, status's governor) destructure named exports.
  mainFields: ['module', 'main'],
  // Some SDK dependencies are CommonJS and call require(); give the ES module one.
  banner: { js: "import { createRequire as __bqRequire } from 'node:module'; const require = __bqRequire(import.meta.url);" },
  plugins: [{
    name: 'lazy-string-width',
    setup(b) {
      b.onResolve({ filter: /^string-width$/ }, () => ({ path: `${root}scripts/string-width.mjs` }));
    },
  }],
  minify: true,
  define: { __VERSION__: JSON.stringify(version) },
  logLevel: 'warning',
});

await build({
  absWorkingDir: root,
  entryPoints: ['src/worker/index.ts'],
  outfile: 'dist/worker/index.mjs',
  bundle: true,
  // The governor's Lambda and CloudWatch clients are the runtime's (every Node.js runtime of Lambda
  // has SDK v3), imported only by the schedule's tick: the zip and a request's cold start do not
  // carry them. Locally they resolve from the package's node_modules.
  external: ['@aws-sdk/client-lambda', '@aws-sdk/client-cloudwatch'],
  minify: true,
  format: 'esm',
  platform: 'node',
  target: 'node22',
  // Some SDK dependencies are CommonJS and call require(); give the ES module one.
  banner: { js: "import { createRequire as __bqRequire } from 'node:module'; const require = __bqRequire(import.meta.url);" },
  logLevel: 'warning',
});

// The client's types, for `import { BedrockQueueClient } from 'bedrock-queue/client'`.
const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
execFileSync(process.execPath, [tsc, '-p', `${root}tsconfig.client.json`], { stdio: 'inherit' });
