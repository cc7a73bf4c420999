import { STACK_TAG } from './contract.js';

/** A mistake in how the command was called: exit code 2. */
export class UsageError extends Error {
  override name = 'UsageError';
}

/** A failure to report as one line, without a stack trace: exit code 1. */
export class CliError extends Error {
  override name = 'CliError';
}

/** Ctrl-C (SIGINT) ended the command: said in one line, exit code 130 as shells expect. */
export class InterruptedError extends CliError {
  override name = 'InterruptedError';
}

interface AwsErrorShape {
  name?: string;
  message?: string;
  $metadata?: { httpStatusCode?: number };
  $action?: string;
}

export function errorName(err: unknown): string {
  return (err as AwsErrorShape | undefined)?.name ?? '';
}

export function errorMessage(err: unknown): string {
  return (err as AwsErrorShape | undefined)?.message ?? String(err);
}

export function isAccessDenied(err: unknown): boolean {
  const name = errorName(err);
  return /AccessDenied|UnauthorizedOperation|AuthorizationError/.test(name) ||
    (name === 'ForbiddenException' && /not authorized/i.test(errorMessage(err)));
}

/** AWS holding a call back: throttling by any of its names. */
export const isThrottling = (err: unknown) => /Throttl|ProvisionedThroughputExceeded|RequestLimitExceeded/.test(errorName(err));

/** A failure that may pass: no answer at all (a restarting endpoint), throttling, or a server error. */
export function isTransient(err: unknown): boolean {
  const status = (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
  return status === undefined || status === 429 || status >= 500 || isThrottling(err);
}

const CREDENTIAL_ERRORS = new Set(['CredentialsProviderError', 'ExpiredToken', 'ExpiredTokenException', 'InvalidClientTokenId', 'UnrecognizedClientException', 'SignatureDoesNotMatch', 'TokenProviderError']);

export function isCredentialError(err: unknown): boolean {
  return CREDENTIAL_ERRORS.has(errorName(err));
}

/** Said wherever AWS cannot be used for want of set-up (no Region, no credentials): the same pipeline runs without it. */
export const NO_ACCOUNT_HINT = 'No AWS account at hand? "bedrock-queue up --local" runs the same pipeline on this machine.';

export function credentialsMessage(detail: string, profile?: string): string {
  return `AWS credentials are missing or invalid${profile ? ` for profile "${profile}"` : ''} (${detail}). ` +
    `Set AWS_PROFILE or pass --profile, run "aws sso login" for SSO profiles, or export AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY. ${NO_ACCOUNT_HINT}`;
}

/** Turns an AWS SDK error into the one line an operator needs, naming the IAM action when access is denied. */
export function describeError(err: unknown): string {
  if (err instanceof CliError || err instanceof UsageError) return err.message;
  const name = errorName(err);
  const message = errorMessage(err).split('\n')[0]!;
  const action = (err as AwsErrorShape).$action;
  if (isAccessDenied(err)) {
    const performed = /perform: (\S+)/.exec(message)?.[1] ?? action ?? 'an AWS action';
    const resource = /on resource: (\S+)/.exec(message)?.[1];
    return `Access denied: your credentials are missing the permission ${performed}${resource ? ` on ${resource}` : ''}. ` +
      'Grant it ("bedrock-queue policy" prints every permission bedrock-queue needs) and run the command again.';
  }
  if (isCredentialError(err)) return credentialsMessage(message);
  if (/ECONNREFUSED|ENOTFOUND|EAI_AGAIN/.test(`${name} ${message} ${(err as { code?: string }).code ?? ''}`)) {
    return `Cannot reach the AWS endpoint${action ? ` for ${action}` : ''}: ${message}`;
  }
  return `${action ? `${action} failed: ` : ''}${name && name !== 'Error' ? `${name}: ` : ''}${message}`;
}

/** The refusal to touch resources that carry one of the stack's names but not its tag. */
export function foreignError(items: { kind: string; name: string }[], stack: string): CliError {
  const list = items.map((i) => `${i.kind} ${i.name}`).join(', ');
  const [verb, pronoun] = items.length > 1 ? ['exist', 'them'] : ['exists', 'it'];
  return new CliError(`Not this stack's: ${list} ${verb} without the tag ${STACK_TAG}=${stack}, so bedrock-queue will not touch ${pronoun}. Choose another --name, or tag or remove ${pronoun} yourself.`);
}
