import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll } from 'vitest'

const made: string[] = []
afterAll(async () => {
  await Promise.all(made.map(async dir => await rm(dir, { recursive: true, force: true })))
})

/** A fresh directory on the real filesystem, removed after the file's tests. */
export async function tempDir(label = 'sai'): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), `${label}-`))
  made.push(dir)
  return dir
}

/** Temp files left anywhere in a store (its .tmp folder and the shard directories). */
export async function strayTemps(storage: {
  verify: (options: { tempMinAgeMs: number }) => Promise<{ problems: Array<{ reason: string; key: string }> }>
}): Promise<string[]> {
  return (await storage.verify({ tempMinAgeMs: 0 })).problems.filter(p => p.reason === 'stray-temp').map(p => p.key)
}
