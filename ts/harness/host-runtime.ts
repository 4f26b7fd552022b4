/**
 * A tenant in an application group of a tenant host process (isolation 'process'): what it does
 * to its process (exit, abort, a segfault, its descriptors, its memory) ends or harms only that
 * host, which the harness replaces.
 */
import { encodeRequest, RequestFlag, requestFieldsFor } from '../daemon/protocol.js';
import { inProcessFields, type InProcessRequest } from '../http/in-process.js';
import type { HostGroupSpec, TenantHost } from './tenant-host.js';
import type { CallLimits, DispatchOutcome, Placement, RequestOutcome, TenantRuntime } from './tenant-runtime.js';

/** A REQUEST frame's header and connection id, before its fields. */
const REQUEST_PREFIX = 8 + 4;

export class HostRuntime implements TenantRuntime {
  constructor(
    readonly host: TenantHost,
    readonly group: HostGroupSpec,
    readonly placement: Placement,
  ) {}

  get groupName(): string {
    return this.group.name;
  }

  dispatch(request: unknown[], limits?: CallLimits): Promise<DispatchOutcome> {
    return this.host.dispatch(this.group, JSON.stringify(request), limits);
  }

  request(app: string, options: InProcessRequest, limits?: CallLimits): Promise<RequestOutcome> {
    const { fields: f, body } = inProcessFields(options);
    const isModule = /^[\w.]+:[\w.]+$/.test(app);
    const main = this.group.kind === 'main';
    const fields = requestFieldsFor(f, {
      appTarget: app,
      callable: 'application',
      scriptName: '',
      pathInfo: f.rawPath,
      processGroup: '',
      applicationGroup: main ? '' : this.group.name,
      groupName: this.group.name,
      groupKind: this.group.kind,
      groupStrict: this.group.strict ? '1' : '0',
    });
    let flags = RequestFlag.PassAuthorization;
    if (isModule) flags |= RequestFlag.IsModule;
    if (body.length) flags |= RequestFlag.HasBody;
    const payload = Buffer.from(encodeRequest(fields, flags).slice(REQUEST_PREFIX), 'latin1');
    return this.host.request(this.group.name, flags, payload, body, limits);
  }

  drop(waitMs: number): Promise<'ended' | 'stuck'> {
    return this.host.drop(this.group.name, waitMs);
  }
}
