import { execFileSync } from 'node:child_process'
import {
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  symlinkSync,
  writeFileSync
} from 'node:fs'
import { alive } from '../helpers/child.js'

/**
 * Child-process and consumer tests run the built package: built once, fresh, before them, into a
 * folder of its own, and swapped in with one rename of the `dist` link, so that another test run
 * in this tree never sees `dist` half-written or gone. Two runs build one after the other (tsup
 * runs side by side in one folder trip over each other).
 */
export default function setup(): void {
  const out = `.dist-build-${process.pid}-${Date.now().toString(36)}`
  withLock('.dist-build.lock', () => {
    execFileSync('npx', ['tsup', '--out-dir', out, '--silent'], { stdio: ['ignore', 'ignore', 'inherit'] })
    const link = `${out}.link`
    symlinkSync(out, link)
    if (lstatSync('dist', { throwIfNoEntry: false })?.isDirectory() === true)
      rmSync('dist', { recursive: true, force: true }) // a real folder from `npm run build`
    renameSync(link, 'dist')
    // builds more than an hour old are no one's any more (another run may still be using a newer one)
    for (const old of readdirSync('.').filter(name => /^\.dist-build-\d+-[0-9a-z]+$/.test(name) && name !== out)) {
      if (Date.now() - lstatSync(old).mtimeMs > 3_600_000) rmSync(old, { recursive: true, force: true })
    }
  })
}

/** Runs `work` holding a lock folder; a lock whose process is gone is taken over. */
function withLock(path: string, work: () => void): void {
  for (const deadline = Date.now() + 300_000; ; ) {
    try {
      mkdirSync(path)
      writeFileSync(`${path}/pid`, String(process.pid))
      break
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST' || Date.now() > deadline) throw err
      let holder = NaN
      try {
        holder = Number(readFileSync(`${path}/pid`, 'utf8') || NaN)
      } catch {} // being written
      if (Number.isInteger(holder) && !alive(holder)) rmSync(path, { recursive: true, force: true })
      else execFileSync('sleep', ['0.5'])
    }
  }
  try {
    work()
  } finally {
    rmSync(path, { recursive: true, force: true })
  }
}
