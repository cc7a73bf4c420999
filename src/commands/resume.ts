import { toggleCommand } from './mapping-change.js';

export const resumeCommand = toggleCommand({
  command: 'resume',
  enabled: true,
  describe: 'Start consuming requests again after pause',
  example: 'Start consuming queued requests again',
  title: 'Resuming the worker',
});
