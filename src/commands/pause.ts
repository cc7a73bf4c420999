import { toggleCommand } from './mapping-change.js';

export const pauseCommand = toggleCommand({
  command: 'pause',
  enabled: false,
  describe: 'Stop consuming requests (they keep queuing) until resume',
  example: 'Stop calling the model; requests keep queuing until resume',
  title: 'Pausing the worker',
});
