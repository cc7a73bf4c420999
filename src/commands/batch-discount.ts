import type { DiscountOutcome, DiscountProgress } from '../client/batch-inference.js';
import { CliError, InterruptedError } from '../errors.js';
import type { Price } from '../governor/budget.js';
import { knownPrice, PRICE_TABLE } from '../pricing.js';
import { formatSeconds, plural, table, type Output } from '../output.js';
import { interruptSignal, type OperatorTarget } from './session.js';

/** Bedrock's batch price against its on-demand price for the models that offer batch inference (the pricing page: 50% off). */
const BATCH_SHARE = 0.5;

export interface DiscountArgs {
  file: string;
  out: string;
  resume: boolean;
  timeout: number;
  price?: Price;
  name: string;
  /** Plan by the documented defaults: the model's batch quotas are not read. */
  skipModelCheck?: boolean;
}

/** What `batch` says of a line of the file that is not a request, on either route. */
export const badLineSaid = (line: number, reason: string) => `line ${line} is not a request (written as an InvalidLine error): ${reason}`;

/** Jobs counted by state: "2 InProgress, 1 Scheduled". */
export function jobStates(jobs: { status: string }[]): string {
  const states = new Map<string, number>();
  for (const job of jobs) states.set(job.status, (states.get(job.status) ?? 0) + 1);
  return [...states].map(([state, n]) => `${n} ${state}`).join(', ');
}

/** The jobs in one line: "3 jobs: 2 InProgress, 1 Scheduled; 1412 of 3000 records done, 3 failed; 5m elapsed". */
function jobsLine(p: DiscountProgress): string {
  const done = p.jobs.reduce((sum, j) => sum + j.processed, 0);
  const total = p.jobs.reduce((sum, j) => sum + (j.total ?? 0), 0);
  const failed = p.jobs.reduce((sum, j) => sum + j.failed, 0);
  const counts = total ? `; ${done} of ${total} records done, ${failed} failed` : '';
  return `${plural(p.jobs.length, 'job')}: ${jobStates(p.jobs)}${counts}; ${formatSeconds(p.elapsedMs)} elapsed`;
}

/** The cost line: the tokens at the batch price beside the on-demand price, when the prices are known (--price, else the table's). */
export function costLine(outcome: Pick<DiscountOutcome, 'tokensIn' | 'tokensOut'>, given: Price | undefined, model: string): string {
  const tokens = `${outcome.tokensIn} tokens in, ${outcome.tokensOut} out`;
  const price = given ?? knownPrice(model);
  if (!price) return `${tokens} (give --price in=…,out=… for their cost).`;
  const onDemand = (outcome.tokensIn * price.input + outcome.tokensOut * price.output) / 1e6;
  const source = given ? `--price in=${price.input},out=${price.output}` : `${model} at in=${price.input},out=${price.output} from the price table of ${PRICE_TABLE.date}`;
  return `${tokens}: $${(onDemand * BATCH_SHARE).toFixed(2)} at the batch price, against $${onDemand.toFixed(2)} on demand (${source}; batch at ${BATCH_SHARE * 100}%).`;
}

/** The stack's discount route: its bucket, role, model and clients, on AWS or the local target. */
async function route(name: string, target: OperatorTarget) {
  return target.kind === 'local'
    ? (await import('../local/lifecycle/discount.js')).localDiscountTarget(name)
    : (await import('../operate/discount.js')).discountTarget(await target.context());
}

/** `batch --discount --status`: the stack's jobs that have not ended. */
export async function listDiscountJobs(name: string, target: OperatorTarget, out: Output) {
  const [{ runningJobs }, { clients }] = await Promise.all([import('../client/batch-inference.js'), route(name, target)]);
  const jobs = await runningJobs(clients.bedrock, name);
  out.result({ stack: name, jobs }, () => (jobs.length
    ? table([['job', 'status', 'submitted'], ...jobs.map((j) => [j.name, j.message ? `${j.status} (${j.message})` : j.status, j.submitted ?? ''])])
    : `No batch inference job of stack ${name} is running.`));
}

/** `batch --discount`: the file through Bedrock batch inference on the stack's bucket and role. */
export async function runDiscountBatch(argv: DiscountArgs, target: OperatorTarget, out: Output) {
  const { runDiscount } = await import('../client/batch-inference.js');
  const { target: routed, clients } = await route(argv.name, target);
  const { quotas: _skipped, ...unchecked } = routed;
  const stack = argv.skipModelCheck ? unchecked : routed;
  // A job takes minutes to hours: on a terminal one line kept up to date, elsewhere a line a minute.
  const progress = out.progressLine(60_000);
  const outcome = await runDiscount(clients, stack, {
    file: argv.file, out: argv.out, resume: argv.resume, timeoutMs: argv.timeout, signal: interruptSignal(),
    // A local job takes seconds: looked at every second. One on AWS takes hours: every minute at most.
    ...(target.kind === 'local' ? { pollMs: 1_000 } : {}),
    onBadLine: (line, reason) => progress.say(badLineSaid(line, reason)),
    onLimits: ({ limits, source }) => progress.say(`Planning by ${source}: ${limits.minRecordsPerJob} to ${limits.maxRecordsPerJob} records a job, ${limits.maxSubmittedJobs} jobs at once.`),
  }, (p) => progress.show(jobsLine(p)));
  progress.end();
  const resume = `"bedrock-queue batch ${argv.file} --out ${argv.out} --discount --resume"`;
  const summary = `${outcome.ok} ok, ${outcome.error} error, ${outcome.badLines} bad lines; results in ${argv.out}. ${costLine(outcome, argv.price, stack.model)}`;
  out.result({ out: argv.out, route: 'discount', ...outcome }, () => `Batch (discount): ${summary}`);
  if (outcome.interrupted) throw new InterruptedError(`Interrupted: the jobs run on in Bedrock. Collect their answers with ${resume}.`);
  if (outcome.timedOut) throw new CliError(`The jobs are still running after ${formatSeconds(argv.timeout)} (Bedrock gives a job up to 24 hours, more when it waits in line). Collect their answers later with ${resume}.`);
  if (outcome.error || outcome.badLines) out.fail();
}
