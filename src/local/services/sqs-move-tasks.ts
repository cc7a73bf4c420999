import { randomUUID } from 'node:crypto';
import { AwsError } from './sqs-wire.js';
import type { SqsAction } from './sqs-actions.js';
import type { SqsService } from './sqs-service.js';

interface MoveTask {
  TaskHandle: string;
  Status: 'RUNNING' | 'COMPLETED' | 'CANCELLED' | 'FAILED';
  SourceArn: string;
  DestinationArn?: string;
  ApproximateNumberOfMessagesMoved: number;
  ApproximateNumberOfMessagesToMove: number;
  StartedTimestamp: number;
  FailureReason?: string;
}

const invalid = (message: string) => new AwsError('InvalidParameterValue', message);

/**
 * StartMessageMoveTask and ListMessageMoveTasks: a dead-letter queue's visible messages go back to
 * the destination (or to their only source queue), keeping their ids, their receive count reset.
 * The move runs on the next turn of the event loop, so a task is RUNNING when it is first listed.
 */
export function moveTaskActions(service: SqsService): Record<string, SqsAction> {
  const tasks: MoveTask[] = [];
  return {
    StartMessageMoveTask: (p) => {
      const source = service.byArn(p.SourceArn);
      if (!source) throw new AwsError('ResourceNotFoundException', 'The resource that you specified for the SourceArn parameter doesn\'t exist.');
      const sources = service.deadLetterSources(service.arn(source.name));
      if (!sources.length) throw invalid('Source queue must be configured as a Dead Letter Queue.');
      const destination = p.DestinationArn === undefined ? (sources.length === 1 ? sources[0] : undefined) : service.byArn(p.DestinationArn);
      if (!destination) throw new AwsError('ResourceNotFoundException', 'The resource that you specified for the DestinationArn parameter doesn\'t exist.');
      if (tasks.some((t) => t.SourceArn === p.SourceArn && t.Status === 'RUNNING')) throw invalid('There is already a task running. Only one active task is allowed for a source queue arn at a given time.');
      const task: MoveTask = {
        TaskHandle: Buffer.from(JSON.stringify({ taskId: randomUUID(), sourceArn: p.SourceArn })).toString('base64'),
        Status: 'RUNNING',
        SourceArn: String(p.SourceArn),
        ...(p.DestinationArn ? { DestinationArn: String(p.DestinationArn) } : {}),
        ApproximateNumberOfMessagesMoved: 0,
        ApproximateNumberOfMessagesToMove: source.counts().visible,
        StartedTimestamp: Date.now(),
      };
      tasks.unshift(task);
      setImmediate(() => {
        for (const message of source.visible()) {
          if (task.ApproximateNumberOfMessagesMoved >= task.ApproximateNumberOfMessagesToMove) break;
          source.remove(message.id);
          destination.add({ ...message, receiveCount: 0, firstReceiveAt: undefined, delayUntil: undefined });
          void service.journal({ op: 'move', from: source.name, to: destination.name, id: message.id, resetCount: true });
          task.ApproximateNumberOfMessagesMoved++;
        }
        task.Status = 'COMPLETED';
      });
      return { TaskHandle: task.TaskHandle };
    },
    ListMessageMoveTasks: (p) => {
      if (!service.byArn(p.SourceArn)) throw new AwsError('ResourceNotFoundException', 'The resource that you specified for the SourceArn parameter doesn\'t exist.');
      const max = Number(p.MaxResults ?? 1);
      return {
        Results: tasks.filter((t) => t.SourceArn === p.SourceArn).slice(0, max).map(({ TaskHandle, ...t }) => ({ ...t, ...(t.Status === 'RUNNING' ? { TaskHandle } : {}) })),
      };
    },
  };
}
