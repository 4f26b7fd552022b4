/**
 * Apache configuration syntax at the character level: logical lines (with `\` continuation and
 * `#` comments), words (Apache's `ap_getword_conf`) and mod_wsgi's `name=value` option lists.
 */
import { ConfigError } from '../errors.js';

/** A logical line: physical lines joined by `\` continuation, trimmed, not blank nor a comment. */
export interface LogicalLine {
  /** The joined text with leading and trailing whitespace removed. */
  readonly text: string;
  /** The physical line (1-based) the logical line starts on. */
  readonly line: number;
}

/** Where a piece of text came from, for error messages. */
export interface Where {
  readonly file: string;
  readonly line: number;
}

/**
 * Splits a configuration file into logical lines as Apache's `ap_cfg_getline` does: a backslash
 * immediately before the end of a line joins the next line to it (the backslash is removed, the
 * next line's text follows directly); lines are trimmed; blank lines and lines whose first
 * non-blank character is `#` are comments. A `#` anywhere else is ordinary text, as in Apache.
 */
export function logicalLines(source: string): LogicalLine[] {
  const physical = source.split('\n');
  const out: LogicalLine[] = [];
  let i = 0;
  while (i < physical.length) {
    const start = i + 1;
    let text = '';
    for (;;) {
      let part = physical[i] ?? '';
      i++;
      if (part.endsWith('\r')) part = part.slice(0, -1);
      if (part.endsWith('\\') && i < physical.length) {
        text += part.slice(0, -1);
        continue;
      }
      if (part.endsWith('\\')) part = part.slice(0, -1);
      text += part;
      break;
    }
    text = text.trim();
    if (text === '' || text.startsWith('#')) continue;
    out.push({ text, line: start });
  }
  return out;
}

const isSpace = (c: string | undefined): boolean => c === ' ' || c === '\t' || c === '\n' || c === '\r' || c === '\f' || c === '\v';

/** One word read by {@link nextWord}: its text and the index just past it and the blanks after it. */
export interface Word {
  readonly word: string;
  readonly next: number;
}

/**
 * Reads one word from `text` at `pos`, as Apache's `ap_getword_conf`: a word is either a run of
 * non-blank characters or a string in double or single quotes. Inside quotes, `\` followed by the
 * quote character or by `\` stands for that character; everywhere, `\\` stands for `\`; any other
 * backslash is kept. Returns `undefined` at the end of the text.
 *
 * @throws ConfigError on a quoted string that is not closed (Apache silently takes the rest of
 *   the line; pyhost says what was expected instead).
 */
export function nextWord(text: string, pos: number, where: Where): Word | undefined {
  let i = pos;
  while (isSpace(text[i])) i++;
  if (i >= text.length) return undefined;
  const quote = text[i];
  let word = '';
  if (quote === '"' || quote === "'") {
    i++;
    for (;;) {
      if (i >= text.length) {
        throw new ConfigError(where.file, where.line, `unterminated quoted string: expected a closing ${quote} in: ${text}`);
      }
      const c = text[i];
      if (c === quote) { i++; break; }
      if (c === '\\' && (text[i + 1] === quote || text[i + 1] === '\\')) {
        word += text[i + 1];
        i += 2;
        continue;
      }
      word += c;
      i++;
    }
  } else {
    while (i < text.length && !isSpace(text[i])) {
      if (text[i] === '\\' && text[i + 1] === '\\') { word += '\\'; i += 2; continue; }
      word += text[i];
      i++;
    }
  }
  while (isSpace(text[i])) i++;
  return { word, next: i };
}

/** Splits `text` into words with {@link nextWord}. */
export function splitWords(text: string, where: Where): string[] {
  const words: string[] = [];
  let pos = 0;
  for (let w = nextWord(text, pos, where); w; w = nextWord(text, pos, where)) {
    words.push(w.word);
    pos = w.next;
  }
  return words;
}

/** One `name=value` option of a mod_wsgi directive. */
export interface WsgiOption {
  readonly name: string;
  readonly value: string;
}

/**
 * Parses a mod_wsgi option list (`name=value name2="quoted value" ...`) as mod_wsgi's
 * `wsgi_parse_option` does: the name runs to `=`, the value is one word (it may be quoted).
 * An empty value (`name=` followed by a blank) is the empty string.
 *
 * @param invalid the message for a word that is not `name=value`, e.g. mod_wsgi's
 *   `Invalid option to WSGI daemon process definition.`
 */
export function parseOptions(text: string, where: Where, invalid: string): WsgiOption[] {
  const options: WsgiOption[] = [];
  let i = 0;
  for (;;) {
    while (isSpace(text[i])) i++;
    if (i >= text.length) return options;
    let end = i;
    while (end < text.length && text[end] !== '=' && !isSpace(text[end])) end++;
    if (text[end] !== '=' || end === i) {
      const bad = text.slice(i).split(/\s/)[0];
      throw new ConfigError(where.file, where.line, `${invalid} Expected name=value, got '${bad}'.`);
    }
    const name = text.slice(i, end);
    i = end + 1;
    if (i >= text.length || isSpace(text[i])) {
      options.push({ name, value: '' });
      continue;
    }
    const w = nextWord(text, i, where);
    options.push({ name, value: w?.word ?? '' });
    i = w?.next ?? text.length;
  }
}
