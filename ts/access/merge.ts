/**
 * The per-request merge of access settings: the sections that match a request (by URL for
 * `<Location>`, by the file it maps to for `<Directory>` and `<Files>`), folded in Apache's
 * merge order with each module's merge rule: mod_authz_core's (a section's Require lines replace
 * the outer ones unless AuthMerging And/Or combines them), mod_access_compat's (the last section
 * with Order/Allow/Deny/Satisfy wins whole), and field by field for the rest.
 */
import type { AccessLayer, CompatRules, HookScript, Located, RequireGroup, SectionAccess, SetEnvRule } from '../config/access-plan.js';
import { directoryMatches, fileMatches, urlMatches } from '../config/match.js';
import { unionMethods } from './methods.js';

/** The access settings in force for one request. */
export interface MergedAccess {
  readonly require?: RequireGroup;
  /** The AuthMerging in force after the last section with authorization settings. */
  readonly merging: 'unset' | 'off' | 'and' | 'or';
  readonly forbiddenOnFailure: boolean;
  readonly compat?: CompatRules;
  readonly authType?: Located<string>;
  readonly authName?: Located<string>;
  readonly userFile?: Located<string>;
  readonly groupFile?: Located<string>;
  readonly basicProviders?: Located<readonly string[]>;
  readonly basicAuthoritative: boolean;
  readonly accessScript?: HookScript;
  readonly authUserScript?: HookScript;
  readonly authGroupScript?: HookScript;
  /** Directory-level SetEnvIf rules, outer sections first. */
  readonly setEnv: readonly SetEnvRule[];
  /** The sections that applied, for messages. */
  readonly sections: readonly string[];
}

/** What a request is matched on. */
export interface RequestTarget {
  /** The decoded, normalised URL path (Apache's r->uri). */
  readonly uri: string;
  /** The file the request maps to (a script, or a file below an alias), if any. */
  readonly filename?: string;
}

/** Whether a layer applies to the request. */
export function layerMatches(layer: AccessLayer, target: RequestTarget): boolean {
  if (layer.scope === 'location') return urlMatches(layer.url!, target.uri);
  const file = target.filename;
  if (file === undefined) return false;
  if (!(layer.directories ?? []).every((m) => directoryMatches(m, file))) return false;
  return !layer.files || layer.files.every((m) => fileMatches(m, file));
}

interface Authz {
  require?: RequireGroup;
  merging: MergedAccess['merging'];
  forbiddenOnFailure?: boolean;
}

/** mod_authz_core's merge_authz_core_dir_config. */
function mergeAuthz(base: Authz, s: SectionAccess): Authz {
  const op = s.merging?.value ?? 'unset';
  const own = s.require;
  let out: Authz;
  if (op === 'unset' && !own && base.require) out = { ...base };
  else if (op === 'off' || op === 'unset' || !(base.require || own)) out = { merging: op, ...(own ? { require: own } : {}) };
  else {
    let require: RequireGroup;
    if (base.require && own) {
      require = {
        kind: 'group', op: op === 'and' ? 'all' : 'any', negate: false, merged: true,
        limited: unionMethods(base.require.limited, own.limited), children: [base.require, own], file: own.file, line: own.line,
      };
    } else require = (base.require ?? own)!;
    out = { require, merging: op };
  }
  const fof = s.forbiddenOnFailure?.value ?? base.forbiddenOnFailure;
  return { ...out, ...(fof !== undefined ? { forbiddenOnFailure: fof } : {}) };
}

/** Folds the layers that match `target`, in order. */
export function mergeAccess(layers: readonly AccessLayer[], target: RequestTarget): MergedAccess {
  let authz: Authz = { merging: 'unset' };
  const out: { -readonly [K in keyof MergedAccess]?: MergedAccess[K] } = {};
  const setEnv: SetEnvRule[] = [];
  const sections: string[] = [];
  for (const layer of layers) {
    if (!layerMatches(layer, target)) continue;
    const s = layer.access;
    sections.push(`${layer.label} (${layer.file}:${layer.line})`);
    if (s.require || s.merging || s.forbiddenOnFailure) authz = mergeAuthz(authz, s);
    if (s.compat) out.compat = s.compat;
    for (const k of ['authType', 'authName', 'userFile', 'groupFile', 'basicProviders', 'accessScript', 'authUserScript', 'authGroupScript'] as const) {
      if (s[k]) (out as Record<string, unknown>)[k] = s[k];
    }
    if (s.basicAuthoritative) out.basicAuthoritative = s.basicAuthoritative.value;
    if (s.setEnv) setEnv.push(...s.setEnv);
  }
  return {
    ...out,
    ...(authz.require ? { require: authz.require } : {}),
    merging: authz.merging,
    forbiddenOnFailure: authz.forbiddenOnFailure ?? false,
    basicAuthoritative: out.basicAuthoritative ?? true,
    setEnv,
    sections,
  };
}
