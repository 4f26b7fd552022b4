/** The daemon backend: a mount whose requests run in a daemon process group. */
import type { GroupOptions } from '../group.js';
import { GLOBAL_GROUP } from '../group.js';
import type { Backend, BackendRequest, Exchange } from '../http/backend.js';
import { OutboundRequest } from './connection.js';
import type { DaemonGroup } from './daemon-group.js';
import { RequestFlag, requestFieldsFor } from './protocol.js';

export class DaemonBackend implements Backend {
  private readonly staticFlags: number;

  constructor(
    private readonly group: DaemonGroup,
    private readonly app: { target: string; isModule: boolean; callable: string; reload: boolean },
    private readonly groupOptions: GroupOptions | undefined,
  ) {
    let flags = 0;
    if (app.isModule) flags |= RequestFlag.IsModule;
    if (app.reload) flags |= RequestFlag.Reload;
    if (group.settings.processes > 1 || group.settings.processesExplicit) flags |= RequestFlag.Multiprocess;
    this.staticFlags = flags;
  }

  submit(ex: Exchange): BackendRequest {
    const f = ex.fields;
    let flags = this.staticFlags;
    if (f.hasBody) flags |= RequestFlag.HasBody;
    if (ex.passAuthorization) flags |= RequestFlag.PassAuthorization;
    const main = ex.groupName === GLOBAL_GROUP;
    const gil = this.groupOptions?.gil ?? 'shared';
    const fields = requestFieldsFor(f, {
      appTarget: this.app.target,
      callable: this.app.callable,
      scriptName: ex.scriptName,
      pathInfo: ex.pathInfo,
      processGroup: ex.processGroup,
      applicationGroup: ex.applicationGroup,
      groupName: ex.groupName,
      groupKind: main ? 'main' : gil,
      groupStrict: !main && (gil === 'own' || this.groupOptions?.extensions === 'strict') ? '1' : '0',
    });
    return this.group.submit(ex, fields, flags, (placement) => new OutboundRequest(ex, fields, flags, placement));
  }
}
