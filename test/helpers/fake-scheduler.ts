/**
 * EventBridge Scheduler for unit tests: schedule groups with their tags and schedules, changed by the
 * Create, Update, Tag and Delete calls as AWS does, with AWS's error for what is not there
 * (ResourceNotFoundException) and for a group that exists (ConflictException).
 */
import {
  ConflictException,
  CreateScheduleCommand,
  CreateScheduleGroupCommand,
  DeleteScheduleCommand,
  DeleteScheduleGroupCommand,
  GetScheduleCommand,
  GetScheduleGroupCommand,
  ListTagsForResourceCommand,
  ResourceNotFoundException,
  SchedulerClient,
  TagResourceCommand,
  UpdateScheduleCommand,
  type CreateScheduleCommandInput,
} from '@aws-sdk/client-scheduler';
import { mockClient, type AwsClientStub } from 'aws-sdk-client-mock';

export interface ScheduleGroupState {
  tags: Record<string, string>;
  schedules: Record<string, CreateScheduleCommandInput>;
}

const REGION = 'us-east-1';
const ACCOUNT = '123456789012';
const groupArn = (name: string) => `arn:aws:scheduler:${REGION}:${ACCOUNT}:schedule-group/${name}`;

export function mockScheduler(groups: Record<string, ScheduleGroupState>): AwsClientStub<SchedulerClient> {
  const m = mockClient(SchedulerClient);
  const group = (name?: string) => groups[name!] ?? (() => { throw new ResourceNotFoundException({ message: `Schedule group ${name} does not exist.`, Message: `Schedule group ${name} does not exist.`, $metadata: {} }); })();
  m.on(GetScheduleGroupCommand).callsFake((input) => (group(input.Name), { Name: input.Name, Arn: groupArn(input.Name!), State: 'ACTIVE' }));
  m.on(ListTagsForResourceCommand).callsFake((input) => ({ Tags: Object.entries(group(input.ResourceArn!.split('schedule-group/')[1]).tags).map(([Key, Value]) => ({ Key, Value })) }));
  m.on(GetScheduleCommand).callsFake((input) => {
    const found = group(input.GroupName).schedules[input.Name!];
    if (!found) throw new ResourceNotFoundException({ message: `Schedule ${input.Name} does not exist.`, Message: `Schedule ${input.Name} does not exist.`, $metadata: {} });
    return { ...found, Arn: `arn:aws:scheduler:${REGION}:${ACCOUNT}:schedule/${input.GroupName}/${input.Name}` };
  });
  m.on(CreateScheduleGroupCommand).callsFake((input) => {
    if (groups[input.Name!]) throw new ConflictException({ message: `Schedule group ${input.Name} already exists.`, Message: `Schedule group ${input.Name} already exists.`, $metadata: {} });
    groups[input.Name!] = { tags: Object.fromEntries((input.Tags ?? []).map((t: { Key?: string; Value?: string }) => [t.Key!, t.Value!])), schedules: {} };
    return { ScheduleGroupArn: groupArn(input.Name!) };
  });
  m.on(TagResourceCommand).callsFake((input) => void Object.assign(group(input.ResourceArn!.split('schedule-group/')[1]).tags, Object.fromEntries((input.Tags ?? []).map((t: { Key?: string; Value?: string }) => [t.Key!, t.Value!]))));
  m.on(CreateScheduleCommand).callsFake((input) => {
    const g = group(input.GroupName);
    if (g.schedules[input.Name!]) throw new ConflictException({ message: `Schedule ${input.Name} already exists.`, Message: `Schedule ${input.Name} already exists.`, $metadata: {} });
    g.schedules[input.Name!] = input;
    return { ScheduleArn: `arn:aws:scheduler:${REGION}:${ACCOUNT}:schedule/${input.GroupName}/${input.Name}` };
  });
  m.on(UpdateScheduleCommand).callsFake((input) => {
    group(input.GroupName).schedules[input.Name!] = input;
    return { ScheduleArn: `arn:aws:scheduler:${REGION}:${ACCOUNT}:schedule/${input.GroupName}/${input.Name}` };
  });
  m.on(DeleteScheduleCommand).callsFake((input) => {
    if (!group(input.GroupName).schedules[input.Name!]) throw new ResourceNotFoundException({ message: `Schedule ${input.Name} does not exist.`, Message: `Schedule ${input.Name} does not exist.`, $metadata: {} });
    delete groups[input.GroupName!]!.schedules[input.Name!];
  });
  m.on(DeleteScheduleGroupCommand).callsFake((input) => void (group(input.Name), delete groups[input.Name!]));
  return m;
}
