/**
 * The fsck, what a server operator runs after a power cut: every object re-hashed (on every core,
 * by the walk's workers), stray temps and a killed prune's set-aside objects found. With `repair`:
 * bad objects go to the quarantine, strays are removed, set-aside objects are put back.
 */
import { readdirSync, statSync } from 'node:fs'
import { unlink } from 'node:fs/promises'
import { join } from 'node:path'
import { isMissing } from '../../core/errors.js'
import type { ShardingStrategy } from '../../core/sharding.js'
import { SPECIAL_DIRS } from '../../core/special-dirs.js'
import { addFinding, emptyReport, type Finding, type VerifyOptions, type VerifyReport } from '../../core/verify-report.js'
import type { FilesystemQuarantine } from './quarantine.js'
import { sha256OfKey } from './listing.js'
import { putBack } from './set-aside.js'
import { walkUnits } from './walk.js'

const HOUR_MS = 60 * 60 * 1000
const JPEG_START = 0xffd8
const JPEG_END = 0xffd9

export async function verifyStore (root: string, sharding: ShardingStrategy, quarantine: FilesystemQuarantine, options: VerifyOptions = {}): Promise<VerifyReport> {
  const { repair = false, tempMinAgeMs = HOUR_MS, signal } = options
  const report = emptyReport(repair)
  const now = Date.now()

  const found = async (finding: Finding, sha256?: string): Promise<void> => {
    if (repair) {
      if (finding.reason === 'stray-temp') {
        await unlink(finding.path).catch((err: unknown) => { if (!isMissing(err)) throw err })
        finding.action = 'removed'
      } else if (finding.reason === 'set-aside') {
        finding.movedTo = join(root, sharding.encode(sha256!))
        await putBack(finding.path, finding.movedTo, true)
        finding.action = 'restored'
      } else {
        finding.movedTo = await quarantine.take(finding.path, sha256!, finding.reason)
        finding.action = 'quarantined'
      }
    }
    addFinding(report, finding)
  }

  // a million files: read from the unit's columns (walk.ts), a path made only for a finding
  const prefix = join(root, '/')
  for await (const unit of walkUnits(root, sharding, { hash: true, subset: options.subset, after: options.after, signal, workers: options.concurrency })) {
    const n = unit.numbers
    let lastDone: string | undefined
    for (let i = 0; i < unit.count; i++) {
      const key = unit.key(i)
      const [size, mtimeMs, kind, head, tail] = [n[i * 5]!, n[i * 5 + 1]!, n[i * 5 + 2]!, n[i * 5 + 3]!, n[i * 5 + 4]!]
      if (key.endsWith('.tmp')) {
        if (now - mtimeMs >= tempMinAgeMs) await found({ path: prefix + key, key, reason: 'stray-temp' })
        continue
      }
      const sha256 = sha256OfKey(key, kind, sharding)
      if (sha256 === undefined) {
        await found({ path: prefix + key, key, reason: 'misnamed' }, claimedHash(key, unit.actual(i)))
        continue
      }
      const actual = unit.actual(i)
      if (actual === '') continue // removed while we walked
      report.checked++
      report.bytes += size
      lastDone = sha256
      if (actual !== sha256) await found({ path: prefix + key, key, reason: size === 0 ? 'empty' : head === JPEG_START && tail !== JPEG_END ? 'truncated' : 'corrupt' }, sha256)
    }
    options.onProgress?.({ checked: report.checked, bytes: report.bytes, lastDone })
  }

  for (const name of names(join(root, SPECIAL_DIRS.temp))) {
    const path = join(root, SPECIAL_DIRS.temp, name)
    const stats = statSync(path, { throwIfNoEntry: false })
    if (stats?.isFile() === true && now - stats.mtimeMs >= tempMinAgeMs) await found({ path, key: `${SPECIAL_DIRS.temp}/${name}`, reason: 'stray-temp' })
  }
  // a prune's set-aside objects; a live prune's (changed, by its rename, less than tempMinAgeMs ago) are its own
  for (const name of names(join(root, SPECIAL_DIRS.pruning))) {
    const path = join(root, SPECIAL_DIRS.pruning, name)
    const stats = statSync(path, { throwIfNoEntry: false })
    if (stats?.isFile() === true && /^[0-9a-f]{64}\./.test(name) && now - stats.ctimeMs >= tempMinAgeMs) {
      await found({ path, key: `${SPECIAL_DIRS.pruning}/${name}`, reason: 'set-aside' }, name.slice(0, 64))
    }
  }
  report.quarantine = quarantine.totals()
  return report
}

/** The SHA-256 a misnamed file's name claims, else that of its bytes (the quarantine files it by one). */
function claimedHash (key: string, actual: string): string {
  const name = key.slice(key.lastIndexOf('/') + 1)
  return /^[0-9a-f]{64}/.test(name) ? name.slice(0, 64) : actual === '' ? '0'.repeat(64) : actual
}

function names (dir: string): string[] {
  try {
    return readdirSync(dir)
  } catch (err) {
    if (isMissing(err)) return []
    throw err
  }
}
