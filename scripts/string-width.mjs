// string-width for the CLI bundle (yargs lays out --help with it, through cliui and wrap-ansi).
// The package builds an Intl.Segmenter and Unicode-property regexes when it is imported, about
// 40 ms of a 100 ms `--help`. This one measures the same way but builds its Unicode tables only
// when it meets text that is not printable ASCII, which our help never is.
import { eastAsianWidth } from 'get-east-asian-width';

// eslint-disable-next-line no-control-regex
const ANSI = /[\u001B\u009B][[\]()#;?]*(?:(?:(?:;[-a-zA-Z\d/#&.:=?%@~_]+)*|[a-zA-Z\d]+(?:;[-a-zA-Z\d/#&.:=?%@~_]*)*)?\u0007|(?:\d{1,4}(?:;\d{0,4})*)?[\dA-PR-TZcf-ntqry=><~])/g;
const PRINTABLE_ASCII = /^[\x20-\x7e]*$/;
let zeroWidth;

export default function stringWidth(text, options = {}) {
  if (typeof text !== 'string' || text.length === 0) return 0;
  const plain = options.countAnsiEscapeCodes ? text : text.replace(ANSI, '');
  if (PRINTABLE_ASCII.test(plain)) return plain.length;
  zeroWidth ??= /^[\p{Default_Ignorable_Code_Point}\p{Control}\p{Format}\p{Mark}\p{Surrogate}]$/u;
  let width = 0;
  for (const char of plain) {
    if (!zeroWidth.test(char)) width += eastAsianWidth(char.codePointAt(0), { ambiguousAsWide: options.ambiguousIsNarrow === false });
  }
  return width;
}
