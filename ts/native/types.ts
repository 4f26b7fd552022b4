/** Typings of the native addon (csrc/node). Only ts/ talks to it; users never see these. */

export interface NativeGroupHandle {
  exec(source: string): Promise<undefined>;
  eval(expr: string): Promise<unknown>;
  call(module: string, func: string, args: unknown[], kwargs?: Record<string, unknown>): Promise<unknown>;
  rehome(): void;
  close(): void;
  info(): { kind: 'main' | 'shared' | 'own'; queued: number; closed: boolean; busy: { thread: number; busyMs: number }[] };
}

export interface NativeGroupOptions {
  name: string;
  kind: 'main' | 'shared' | 'own';
  strictExtensions: boolean;
  threads: number;
  path: string[];
}

export interface NativeAddon {
  pythonVersionBuilt: string;
  startRuntime(opts: { program?: string; home?: string; path: string[]; optimize: number }): Promise<{ version: string }>;
  shutdownRuntime(timeoutMs: number): Promise<{ finalized: boolean; report: string }>;
  setLogHandler(fn: ((level: number, group: string, line: string) => void) | null): void;
  runtimeState(): { running: boolean; version: string };
  GroupHandle: new (opts: NativeGroupOptions) => NativeGroupHandle;
}
