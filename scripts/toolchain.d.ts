export function findNodeGyp(): string | undefined;
export function nodeDir(): string | undefined;
export function missingToolchain(): string | undefined;
export function buildEnv(part: string, pythonInfoFile?: string): NodeJS.ProcessEnv;
export function writePythonInfo(info: object, tag: string): string;
