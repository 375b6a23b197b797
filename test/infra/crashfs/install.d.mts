export function crashfsBinaryPath(): string
export function ensureCrashfs(options?: { log?: (message: string) => void }): string
