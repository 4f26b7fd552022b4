/**
 * The per-request merge of access settings: the sections that match a request (by URL for
 * `<Location>`, by the file it maps to for `<Directory>` and `<Files>`), folded in Apache's
 * merge order with each module's merge rule: mod_authz_core's (a section's Require lines replace
 * the outer ones unless AuthMerging And/Or combines them), mod_access_compat's (the last section
 * with Order/Allow/Deny/Satisfy wins whole), and field by field for the rest.
 */
import type { AccessLayer, CompatRules, RequireGroup, SectionAccess, SetEnvRule } from '../config/access-plan.js';
import { directoryMatches, fileMatches, urlMatches } from '../config/match.js';
import { unionMethods } from './methods.js';

/** The access settings in force for one request: the last section's value of each field, and these. */
export interface MergedAccess extends Pick<SectionAccess, 'require' | 'compat' | FieldName> {
  /** The AuthMerging in force after the last section with authorization settings. */
  readonly merging: 'unset' | 'off' | 'and' | 'or';
  readonly forbiddenOnFailure: boolean;
  readonly basicAuthoritative: boolean;
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

/** A module-by-module config as Apache merges it; an absent part is a module the sections did not configure. */
interface Part {
  authz?: Authz;
  compat?: CompatRules;
  fields: { -readonly [K in FieldName]?: SectionAccess[K] };
  basicAuthoritative?: boolean;
  setEnv: readonly SetEnvRule[];
}

const FIELDS = ['authType', 'authName', 'userFile', 'groupFile', 'basicProviders', 'accessScript', 'authUserScript', 'authGroupScript'] as const;
type FieldName = (typeof FIELDS)[number];

/** mod_authz_core's merge_authz_core_dir_config. */
function mergeAuthz(base: Authz, next: Authz): Authz {
  const op = next.merging;
  let out: Authz;
  if (op === 'unset' && !next.require && base.require) out = { require: base.require, merging: base.merging };
  else if (op === 'off' || op === 'unset' || !(base.require || next.require)) out = { merging: op, ...(next.require ? { require: next.require } : {}) };
  else {
    let require: RequireGroup;
    if (base.require && next.require) {
      require = {
        kind: 'group', op: op === 'and' ? 'all' : 'any', negate: false, merged: true,
        limited: unionMethods(base.require.limited, next.require.limited), children: [base.require, next.require],
        file: next.require.file, line: next.require.line,
      };
    } else require = (base.require ?? next.require)!;
    out = { require, merging: op };
  }
  const fof = next.forbiddenOnFailure ?? base.forbiddenOnFailure;
  return { ...out, ...(fof !== undefined ? { forbiddenOnFailure: fof } : {}) };
}

/** One section's settings, module by module. */
function partOf(s: SectionAccess): Part {
  const fields: Part['fields'] = {};
  for (const k of FIELDS) if (s[k]) (fields as Record<string, unknown>)[k] = s[k];
  return {
    ...(s.require || s.merging || s.forbiddenOnFailure
      ? { authz: { merging: s.merging?.value ?? 'unset', ...(s.require ? { require: s.require } : {}), ...(s.forbiddenOnFailure ? { forbiddenOnFailure: s.forbiddenOnFailure.value } : {}) } }
      : {}),
    ...(s.compat ? { compat: s.compat } : {}),
    fields,
    ...(s.basicAuthoritative ? { basicAuthoritative: s.basicAuthoritative.value } : {}),
    setEnv: s.setEnv ?? [],
  };
}

/**
 * ap_merge_per_dir_configs: each module's merge where both sides configured it, else whichever
 * did (mod_access_compat has no merger: the newer config replaces the older).
 */
function mergeParts(base: Part, next: Part): Part {
  const authz = next.authz ? (base.authz ? mergeAuthz(base.authz, next.authz) : next.authz) : base.authz;
  const basicAuthoritative = next.basicAuthoritative ?? base.basicAuthoritative;
  const compat = next.compat ?? base.compat;
  return {
    ...(authz ? { authz } : {}),
    ...(compat ? { compat } : {}),
    fields: { ...base.fields, ...next.fields },
    ...(basicAuthoritative !== undefined ? { basicAuthoritative } : {}),
    setEnv: [...base.setEnv, ...next.setEnv],
  };
}

/**
 * The settings for a request, merged as Apache merges them: `<Directory>` sections one by one
 * onto the server's defaults; the matching `<Files>` sections merged together, then onto that;
 * likewise the matching `<Location>` sections (ap_directory_walk, ap_file_walk,
 * ap_location_walk). Merging a group first matters for AuthMerging: a `<Location>` with
 * AuthMerging Or combines with the `<Location>` before it, and the two together with the
 * directory's rules.
 */
export function mergeAccess(layers: readonly AccessLayer[], target: RequestTarget): MergedAccess {
  let dirs: Part = { authz: { merging: 'unset' }, fields: {}, setEnv: [] };
  let files: Part | undefined;
  let locations: Part | undefined;
  const sections: string[] = [];
  for (const layer of layers) {
    if (!layerMatches(layer, target)) continue;
    sections.push(`${layer.label} (${layer.file}:${layer.line})`);
    const part = partOf(layer.access);
    if (layer.scope === 'directory') dirs = mergeParts(dirs, part);
    else if (layer.scope === 'files') files = files ? mergeParts(files, part) : part;
    else locations = locations ? mergeParts(locations, part) : part;
  }
  let all = files ? mergeParts(dirs, files) : dirs;
  if (locations) all = mergeParts(all, locations);
  const authz = all.authz ?? { merging: 'unset' as const };
  return {
    ...all.fields,
    ...(all.compat ? { compat: all.compat } : {}),
    ...(authz.require ? { require: authz.require } : {}),
    merging: authz.merging,
    forbiddenOnFailure: authz.forbiddenOnFailure ?? false,
    basicAuthoritative: all.basicAuthoritative ?? true,
    setEnv: all.setEnv,
    sections,
  };
}
