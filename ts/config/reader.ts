/**
 * Reads a configuration file into a tree of directives and sections, doing what Apache does while
 * reading (its EXEC_ON_READ directives): `Include`/`IncludeOptional`, `Define`/`UnDefine` and
 * `${VAR}`, `ServerRoot`, `LoadModule` (for `<IfModule>`), and the conditional sections
 * `<IfModule>`, `<IfDefine>`, `<IfVersion>`, `<IfFile>`. Sections must nest properly within each
 * file, as in Apache.
 */
import { readFileSync, realpathSync, statSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { ConfigError } from '../errors.js';
import type { ConfigNode, SectionNode } from './ast.js';
import { LoadedModules, ifDefine, ifFile, ifModule, ifVersion } from './conditions.js';
import { includeFiles } from './include.js';
import { type Where, logicalLines, nextWord, splitWords } from './lexer.js';
import { restrictsAccess } from './access.js';
import type { UnenforcedRestriction } from './access-plan.js';
import { Variables } from './variables.js';

/** What {@link readConfig} returns. */
export interface ReadResult {
  /** The top-level nodes of the main file, includes spliced in place. */
  readonly nodes: ConfigNode[];
  /** Every file read, in reading order (absolute paths). */
  readonly files: string[];
  /** The ServerRoot in effect at the end of reading. */
  readonly serverRoot: string;
  /**
   * Access restrictions inside `<IfModule module>` sections skipped because pyhost does not know
   * the module: Apache with that module loaded would apply them.
   */
  readonly skippedAccess: UnenforcedRestriction[];
}

/** Options of {@link readConfig}. */
export interface ReadOptions {
  /** Like `httpd -D NAME`; `NAME=value` also defines `${NAME}`. */
  readonly defines?: readonly string[];
  /** The environment `${VAR}` falls back to (default `process.env`). */
  readonly env?: Readonly<Record<string, string | undefined>>;
}

const CONDITIONALS = new Set(['ifmodule', 'ifdefine', 'ifversion', 'iffile']);
/** Directives the reader executes: an undefined `${VAR}` in them is always an error. */
const READ_TIME = new Set(['include', 'includeoptional', 'define', 'undefine', 'serverroot', 'loadmodule']);

interface Frame {
  readonly name: string;
  readonly key: string;
  readonly where: Where;
  /** Where the section's children go; undefined while skipping a false conditional. */
  readonly children: ConfigNode[] | undefined;
  /** Set on a skipped `<IfModule name>` whose module pyhost does not know (not a negated test). */
  readonly unknownModule?: string;
  /** The first access restriction seen inside it. */
  restriction?: Where & { name: string };
}

class Reader {
  readonly files: string[] = [];
  readonly skippedAccess: UnenforcedRestriction[] = [];
  serverRoot: string;
  private readonly vars: Variables;
  private readonly modules = new LoadedModules();
  private readonly chain: string[] = [];

  constructor(main: string, opts: ReadOptions) {
    this.serverRoot = dirname(main);
    this.vars = new Variables(opts.env ?? process.env, opts.defines);
  }

  /** Reads one file, appending its top-level nodes to `out`; `outer` names the sections around the Include. */
  readFile(path: string, out: ConfigNode[], outer: readonly string[], from: Where | undefined): void {
    let real = path;
    let text: string;
    try {
      if (statSync(path).isDirectory()) throw new Error('is a directory');
      real = realpathSync(path);
      text = readFileSync(path, 'utf8');
    } catch (e) {
      const why = (e as NodeJS.ErrnoException).code === 'ENOENT' ? 'No such file or directory' : (e as Error).message;
      throw new ConfigError(from?.file ?? path, from?.line ?? 0, `Could not open configuration file ${path}: ${why}`);
    }
    if (this.chain.includes(real)) {
      const cycle = [...this.chain.slice(this.chain.indexOf(real)), real].join(' -> ');
      throw new ConfigError(from!.file, from!.line, `Include cycle: ${cycle}`);
    }
    this.chain.push(real);
    this.files.push(path);
    const stack: Frame[] = [];
    for (const { text: line0, line } of logicalLines(text)) {
      const where = { file: path, line };
      const top = stack[stack.length - 1];
      const children = top ? top.children : out;
      if (line0.startsWith('</')) { this.close(line0, stack, where); continue; }
      if (children === undefined) {
        const skipping = stack.find((f) => f.unknownModule !== undefined && !f.restriction);
        if (skipping) {
          const word = /^<?\/?([^\s>]*)/.exec(line0)![1]!;
          if (restrictsAccess(word.toLowerCase()) || /^(requireall|requireany|requirenone)$/i.test(word)) skipping.restriction = { ...where, name: word };
        }
        if (line0.startsWith('<')) stack.push({ ...this.sectionHead(line0, where), where, children: undefined });
        continue;
      }
      if (line0.startsWith('<')) {
        this.open(this.vars.expand(line0, where), stack, children, where);
        continue;
      }
      let expanded = line0;
      let unresolved: ConfigError | undefined;
      try {
        expanded = this.vars.expand(line0, where);
      } catch (e) {
        if (!(e instanceof ConfigError) || READ_TIME.has(nextWord(line0, 0, where)!.word.toLowerCase())) throw e;
        unresolved = e;
      }
      const first = nextWord(expanded, 0, where)!;
      const raw = expanded.slice(first.next);
      const enclosing = stack.filter((f) => !CONDITIONALS.has(f.key)).map((f) => f.name);
      this.directive(first.word, splitWords(raw, where), raw, children, [...outer, ...enclosing], where, unresolved);
    }
    const open = stack[stack.length - 1];
    if (open) throw new ConfigError(open.where.file, open.where.line, `<${open.name}> was not closed: expected </${open.name}> before the end of ${path}`);
    this.chain.pop();
  }

  private sectionHead(text: string, where: Where): { name: string; key: string; args: string[] } {
    const name = /^<([^\s>]*)/.exec(text)![1]!;
    if (!text.endsWith('>')) throw new ConfigError(where.file, where.line, `<${name}> directive missing closing '>'`);
    if (name === '') throw new ConfigError(where.file, where.line, `expected a section name after '<' in: ${text}`);
    const args = splitWords(text.slice(1 + name.length, -1), where);
    return { name, key: name.toLowerCase(), args };
  }

  private open(text: string, stack: Frame[], children: ConfigNode[], where: Where): void {
    const { name, key, args } = this.sectionHead(text, where);
    if (CONDITIONALS.has(key)) {
      const keep = key === 'ifmodule' ? ifModule(args, this.modules, where)
        : key === 'ifdefine' ? ifDefine(args, this.vars, where)
        : key === 'iffile' ? ifFile(args, this.serverRoot, where)
        : ifVersion(args, where);
      const unknownModule = key === 'ifmodule' && !keep && !args[0]!.startsWith('!') ? args[0]! : undefined;
      stack.push({ name, key, where, children: keep ? children : undefined, ...(unknownModule ? { unknownModule } : {}) });
      return;
    }
    const node: SectionNode = { type: 'section', name, key, args, children: [], file: where.file, line: where.line };
    children.push(node);
    stack.push({ name, key, where, children: node.children });
  }

  private close(text: string, stack: Frame[], where: Where): void {
    const m = /^<\/([^\s>]+)\s*(>?)$/.exec(text);
    const name = m?.[1] ?? text.slice(2);
    if (!m || m[2] !== '>') throw new ConfigError(where.file, where.line, `</${name}> directive missing closing '>'`);
    const top = stack[stack.length - 1];
    if (!top) throw new ConfigError(where.file, where.line, `</${name}> without matching <${name}> section`);
    if (top.key !== name.toLowerCase()) {
      throw new ConfigError(where.file, where.line, `Expected </${top.name}> but saw </${name}> (the section opened at ${top.where.file}:${top.where.line})`);
    }
    stack.pop();
    if (top.restriction) {
      this.skippedAccess.push({
        directive: top.restriction.name, file: top.restriction.file, line: top.restriction.line,
        reason: `inside <IfModule ${top.unknownModule}> (${top.where.file}:${top.where.line}), which pyhost skips because it does not know that module; ` +
          'an Apache that loads it would apply this access rule',
      });
    }
  }

  private directive(name: string, args: string[], raw: string, out: ConfigNode[], sections: string[], where: Where,
    unresolved: ConfigError | undefined): void {
    const key = name.toLowerCase();
    const fail = (msg: string): never => { throw new ConfigError(where.file, where.line, msg); };
    switch (key) {
      case 'include':
      case 'includeoptional': {
        if (args.length !== 1) fail(`${name} takes one argument, the file path or wildcard to include`);
        for (const file of includeFiles(args[0]!, this.serverRoot, key === 'includeoptional', where)) {
          this.readFile(file, out, sections, where);
        }
        return;
      }
      case 'define':
        if (args.length < 1 || args.length > 2) fail(`Define takes one or two arguments, NAME [value], got ${args.length}`);
        return this.vars.define(args[0]!, args[1], where);
      case 'undefine':
        if (args.length !== 1) fail(`UnDefine takes one argument, the NAME to undefine`);
        return this.vars.undefine(args[0]!);
      case 'serverroot': {
        if (sections.length > 0) fail(`ServerRoot cannot occur within <${sections[sections.length - 1]}> section`);
        if (args.length !== 1) fail(`ServerRoot takes one argument, a directory`);
        const dir = isAbsolute(args[0]!) ? args[0]! : resolve(this.serverRoot, args[0]!);
        let ok = false;
        try { ok = statSync(dir).isDirectory(); } catch { ok = false; }
        if (!ok) fail(`ServerRoot must be a valid directory: ${dir}`);
        this.serverRoot = resolve(dir);
        return;
      }
      case 'loadmodule':
        if (args.length !== 2) fail(`LoadModule takes two arguments, a module name and the name of a shared object file to load it from`);
        this.modules.load(args[0]!);
        break;
    }
    out.push({ type: 'directive', name, key, args, raw, file: where.file, line: where.line, ...(unresolved ? { unresolved } : {}) });
  }
}

/**
 * Reads the configuration file `path` and everything it includes into a tree.
 *
 * @throws ConfigError naming file:line for syntax errors, unbalanced sections, include failures
 *   and undefined variables.
 */
export function readConfig(path: string, opts: ReadOptions = {}): ReadResult {
  const main = resolve(path);
  const reader = new Reader(main, opts);
  const nodes: ConfigNode[] = [];
  reader.readFile(main, nodes, [], undefined);
  return { nodes, files: reader.files, serverRoot: reader.serverRoot, skippedAccess: reader.skippedAccess };
}
