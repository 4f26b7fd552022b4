/**
 * What the native front needs to serve a mount made by `engine.mount()` without JavaScript per
 * request: the application, the group(s) that run it and its limits, as plain data. Attached to
 * the mount handler when the engine makes it; a mount the native front cannot serve says why
 * (its requests need the Node front's per-request policy: groups named per request, queue and
 * request timeouts, daemon process groups).
 */
import { GLOBAL_GROUP, type Group } from '../group.js';
import { isPerRequestGroup, reportedGroupName, resolveGroupName } from '../http/app-groups.js';
import type { MountHandler, ResolvedMountOptions } from '../http/mount.js';
import { movesToGlobal } from '../scheduler/index.js';

export interface NativePlan {
  /** '' when the native front can serve the mount, else why not. */
  readonly unsupported: string;
  readonly mountPoint: string;
  readonly app: { target: string; isModule: boolean; callable: string; reload: boolean };
  /** The group running the application, or its replicas (the least busy takes each request). */
  groups(): Group[];
  readonly processGroup: string;
  readonly applicationGroup: string;
  readonly passAuthorization: boolean;
  readonly limitRequestBody: number;
  /** Milliseconds a request body may stall (408), 0: no limit. */
  readonly bodyTimeout: number;
  readonly chunkedRequest: boolean;
  readonly fallbackGlobal: boolean;
  /** Worker threads of its group: the native front serves with as many threads. */
  readonly threads: number;
  /** Own-GIL replicas run requests in parallel: every serving thread waits for work at once. */
  readonly parallel: boolean;
}

const PLANS = new WeakMap<MountHandler, NativePlan>();

export function nativePlanOf(handler: MountHandler): NativePlan | undefined {
  return PLANS.get(handler);
}

/** Why a mount's requests need the Node front ('' if none of its options does). */
function unsupportedReason(opts: ResolvedMountOptions): string {
  if (opts.processGroup) return `the mount runs in daemon process group ${opts.processGroup}`;
  if (isPerRequestGroup(opts.group)) return `application group ${opts.group} is named per request`;
  if (opts.queueTimeout > 0) return 'a queue timeout needs the Node front';
  if (opts.requestTimeout > 0) return 'a request timeout needs the Node front';
  // The native front has no queue: requests beyond its serving threads wait in the kernel.
  if (opts.groupOptions?.queueLimit !== undefined) return 'a group queue limit needs the Node front';
  if (opts.accessLog) return 'an access log callback runs JavaScript per request (the native front writes its log to a descriptor)';
  return '';
}

/** @internal Engine.mount: the plan of an embedded mount. */
export function attachEmbeddedPlan(
  handler: MountHandler,
  opts: ResolvedMountOptions,
  app: NativePlan['app'],
  groupByName: (name: string) => Group,
  replicaNames: (name: string) => string[],
): void {
  const unsupported = unsupportedReason(opts);
  const name = unsupported ? '' : resolveGroupName(opts.group, { host: '', port: 0, scriptName: opts.mountPoint });
  const threads = opts.groupOptions?.threads ?? 5;
  PLANS.set(handler, {
    unsupported,
    mountPoint: opts.mountPoint,
    app,
    groups: () => (opts.replicas > 1 ? replicaNames(name) : [name]).map(groupByName),
    processGroup: '',
    applicationGroup: reportedGroupName(name),
    passAuthorization: opts.passAuthorization,
    limitRequestBody: opts.limitRequestBody,
    bodyTimeout: opts.bodyTimeout,
    chunkedRequest: opts.chunkedRequest,
    fallbackGlobal: movesToGlobal(opts.groupOptions?.fallback ?? 'global'),
    threads,
    parallel: opts.replicas > 1 && opts.groupOptions?.gil === 'own' && name !== GLOBAL_GROUP,
  });
}

/** @internal Engine.mount: a daemon mount (served by the Node front; see ts/front/daemon-front.ts for start-server). */
export function attachDaemonPlan(handler: MountHandler, opts: ResolvedMountOptions, app: NativePlan['app']): void {
  PLANS.set(handler, {
    unsupported: unsupportedReason(opts),
    mountPoint: opts.mountPoint,
    app,
    groups: () => [],
    processGroup: opts.processGroup ?? '',
    applicationGroup: '',
    passAuthorization: opts.passAuthorization,
    limitRequestBody: opts.limitRequestBody,
    bodyTimeout: opts.bodyTimeout,
    chunkedRequest: opts.chunkedRequest,
    fallbackGlobal: true,
    threads: opts.groupOptions?.threads ?? 5,
    parallel: false,
  });
}
