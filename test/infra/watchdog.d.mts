export function watchdog(cleanup: string, owner?: number): () => void
