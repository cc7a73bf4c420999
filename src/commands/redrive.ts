import type { ArgumentsCamelCase, Argv } from 'yargs';
import { defineCommand } from './command.js';
import { plural, table, type Output } from '../output.js';
import type { GlobalArgs } from './options.js';
import { openTarget } from './session.js';

interface RedriveArgs extends GlobalArgs {
  dryRun: boolean;
}

function builder(yargs: Argv<GlobalArgs>) {
  return yargs
    .option('dry-run', { type: 'boolean', default: false, describe: 'Show how many would move, and a sample, without moving' })
    .example('$0 redrive --dry-run', 'Count the DLQ and show up to 10 of its requests')
    .example('$0 redrive', 'Move every request in the DLQ back to the requests queue');
}

async function run(argv: ArgumentsCamelCase<RedriveArgs>, out: Output) {
  const target = await openTarget(argv);
  const ctx = await target.context();
  const [dlqUrl] = await Promise.all([target.queueUrl('deadLetterQueue'), target.queueUrl('requestsQueue')]);
  const { redrive, sampleQueue } = await import('../operate/redrive.js');
  const sample = await sampleQueue(ctx, dlqUrl);
  if (argv.dryRun || sample.count === 0) {
    out.result({ stack: argv.name, dryRun: argv.dryRun, count: sample.count, sample: sample.messages }, () => {
      if (!sample.count) return `${ctx.names.deadLetterQueue} is empty: nothing to redrive.`;
      const rows = sample.messages.map((m) => [m.id, `${m.receiveCount} receives`, m.body.length > 100 ? `${m.body.slice(0, 97)}...` : m.body]);
      return `${plural(sample.count, 'request')} would move from ${ctx.names.deadLetterQueue} to ${ctx.names.requestsQueue}. A sample:\n${table(rows)}`;
    });
    return;
  }
  const done = await out.step(`Moving ${plural(sample.count, 'request')} from ${ctx.names.deadLetterQueue} to ${ctx.names.requestsQueue}`, () =>
    redrive(ctx, (p) => out.note(`${p.moved} of ${p.toMove || sample.count} moved`)));
  out.result({ stack: argv.name, ...done }, () => `${done.status === 'COMPLETED' ? 'Moved' : `Move task ${done.status}:`} ${plural(done.moved, 'request')}${done.failureReason ? ` (${done.failureReason})` : ''}.`);
  if (done.status !== 'COMPLETED') out.fail();
}

export const redriveCommand = defineCommand<RedriveArgs>({
  command: 'redrive',
  describe: 'Move requests from the DLQ back to the requests queue (--dry-run to look first)',
  builder,
  run,
});
