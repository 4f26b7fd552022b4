/**
 * The configuration tree the reader produces: directives and sections with their source position,
 * after `Include`, `Define`, `${VAR}` and the conditional sections (`<IfModule>`, `<IfDefine>`,
 * `<IfVersion>`, `<IfFile>`) have been applied, exactly as Apache builds its tree before it runs
 * the directives.
 */
import type { ConfigError } from '../errors.js';

/** One directive line, e.g. `WSGIProcessGroup site1`. */
export interface DirectiveNode {
  readonly type: 'directive';
  /** The name as written, e.g. `WSGIProcessGroup`. */
  readonly name: string;
  /** The name in lower case, for lookups (Apache directive names are case-insensitive). */
  readonly key: string;
  /** The arguments split the way Apache's `ap_getword_conf` splits them. */
  readonly args: string[];
  /** Everything after the name, variables expanded, unsplit (for `name=value` option lists). */
  readonly raw: string;
  readonly file: string;
  readonly line: number;
  /**
   * Set when the line names a `${VAR}` that is not defined: the error to raise if the directive
   * matters to pyhost. (The arguments then hold the unexpanded text; for directives pyhost ignores,
   * like `ErrorLog ${APACHE_LOG_DIR}/error.log`, that is harmless, as in Apache.)
   */
  readonly unresolved?: ConfigError;
}

/** A section such as `<VirtualHost *:80> ... </VirtualHost>`. */
export interface SectionNode {
  readonly type: 'section';
  /** The name as written without the brackets, e.g. `VirtualHost`. */
  readonly name: string;
  /** The name in lower case. */
  readonly key: string;
  /** The arguments of the opening tag, split like directive arguments. */
  readonly args: string[];
  readonly children: ConfigNode[];
  readonly file: string;
  readonly line: number;
}

/** A node of the configuration tree. */
export type ConfigNode = DirectiveNode | SectionNode;
