export const KUBO_VERSION: string
export function kuboBinaryPath(): string
export function versionOf(binary: string): string
export function ensureKubo(options?: { log?: (message: string) => void }): string
