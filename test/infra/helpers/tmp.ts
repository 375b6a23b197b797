import { execFileSync } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll } from 'vitest'

const made: string[] = []
const mounts: string[] = []
afterAll(async () => {
  for (const dir of mounts) execFileSync('umount', [dir])
  await Promise.all(made.map(async dir => await rm(dir, { recursive: true, force: true })))
})

/** A fresh directory on the real filesystem, removed after the file's tests. */
export async function tempDir(label = 'sai'): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), `${label}-`))
  made.push(dir)
  return dir
}

/** A tmpfs of `size` (`2m`) on a fresh directory, for a real ENOSPC (needs root); unmounted after the file's tests. */
export async function smallTmpfs(size: string): Promise<string> {
  const dir = await tempDir('sai-tmpfs')
  execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', dir])
  mounts.push(dir)
  return dir
}

/** Temp files left anywhere in a store (its .tmp folder and the shard directories). */
export async function strayTemps(storage: {
  verify: (options: { tempMinAgeMs: number }) => Promise<{ problems: Array<{ reason: string; key: string }> }>
}): Promise<string[]> {
  return (await storage.verify({ tempMinAgeMs: 0 })).problems.filter(p => p.reason === 'stray-temp').map(p => p.key)
}
