import { AwsError, type MessageAttribute } from './sqs-wire.js';

/** SQS refuses characters outside XML's: #x9 #xA #xD #x20-#xD7FF #xE000-#xFFFD #x10000-#x10FFFF. */
export const INVALID_CHARACTER = /[^\t\n\r\u0020-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/u;

/** SQS's documented limits on message (user) attributes (Developer Guide, "Amazon SQS message attributes"). */
const MAX_ATTRIBUTES = 10;
const MAX_NAME_LENGTH = 256;
const NAME = /^[A-Za-z0-9_.-]+$/;
const RESERVED_PREFIX = /^(aws\.|amazon\.)/i;
/** Numbers: up to 38 digits of precision, from -10^128 to +10^126. */
const NUMBER = /^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/;

const invalid = (message: string) => new AwsError('InvalidParameterValue', message);

function checkName(name: string) {
  if (!name.length || name.length > MAX_NAME_LENGTH) throw invalid(`Message (user) attribute name must be 1 to ${MAX_NAME_LENGTH} characters long (got ${name.length}).`);
  if (!NAME.test(name)) throw invalid(`Message (user) attribute name '${name}' can contain only alphanumeric characters, hyphens, underscores and periods.`);
  if (RESERVED_PREFIX.test(name)) throw invalid(`Message (user) attribute name '${name}' is reserved for use by Amazon SQS: names cannot start with AWS. or Amazon.`);
  if (name.startsWith('.') || name.endsWith('.') || name.includes('..')) throw invalid(`Message (user) attribute name '${name}' cannot start or end with a period, or contain two periods in a row.`);
}

/** Significant digits of a decimal number as written (leading zeros and the exponent left out). */
function precision(text: string): number {
  return text.replace(/^[+-]/, '').replace(/[eE].*$/, '').replace('.', '').replace(/^0+/, '').length;
}

function checkNumber(name: string, value: string) {
  if (!NUMBER.test(value.trim())) throw invalid(`Message (user) attribute '${name}' has an invalid Number value: ${value}.`);
  const number = Number(value);
  if (precision(value.trim()) > 38) throw invalid(`Message (user) attribute '${name}': a Number has at most 38 digits of precision.`);
  const exponent = Math.log10(Math.abs(number));
  if (number !== 0 && (number > 0 ? exponent > 126 : exponent > 128)) throw invalid(`Message (user) attribute '${name}': a Number must be from -10^128 to 10^126.`);
}

/** Checks a message's attributes as SQS does: their number, names, types and values. */
export function checkMessageAttributes(attributes: Record<string, MessageAttribute> | undefined) {
  const entries = Object.entries(attributes ?? {});
  if (entries.length > MAX_ATTRIBUTES) throw invalid(`Number of message attributes [${entries.length}] exceeds the allowed maximum [${MAX_ATTRIBUTES}].`);
  for (const [name, a] of entries) {
    checkName(name);
    const type = /^(String|Number|Binary)(\..+)?$/.exec(a.DataType ?? '')?.[1];
    if (!type) throw invalid(`The type of message (user) attribute '${name}' is invalid.`);
    const value = type === 'Binary' ? a.BinaryValue : a.StringValue;
    if (value === undefined || value === '') throw invalid(`Message (user) attribute '${name}' must contain a non-empty value of type '${type}'.`);
    if (type === 'Number') checkNumber(name, value);
    if (type === 'String' && INVALID_CHARACTER.test(value)) throw invalid(`Message (user) attribute '${name}' contains invalid characters: valid are #x9 | #xA | #xD | #x20 to #xD7FF | #xE000 to #xFFFD | #x10000 to #x10FFFF.`);
  }
}

/** The bytes attributes count towards the message size limit: names, types and values. */
export function attributesSize(attributes: Record<string, MessageAttribute> | undefined): number {
  let size = 0;
  for (const [name, a] of Object.entries(attributes ?? {})) {
    size += Buffer.byteLength(name) + Buffer.byteLength(a.DataType) + (a.BinaryValue ? Buffer.from(a.BinaryValue, 'base64').length : Buffer.byteLength(a.StringValue ?? ''));
  }
  return size;
}
