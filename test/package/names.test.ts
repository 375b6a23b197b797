// The public surface of the built package, as an application loads it in ESM and in CommonJS: what
// each entry point exports, that class names survive the bundle (`err.name`, `constructor.name`
// and stack traces say `InvalidInputError`, not the bundler's `_InvalidInputError`), and that each
// class exists once: an error thrown by code from any entry point is an instance of the main
// entry's class.
import { execFileSync, spawnSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { tempDir } from '../infra/helpers/tmp.js'
import { application, ENTRY_POINTS, PACKAGE } from './package.js'

/** The main entry's runtime names (its types are checked in consumers.test.ts). */
const MAIN = [
  'ConfigError',
  'ImageStorageError',
  'IntegrityError',
  'InvalidInputError',
  'InvalidRefError',
  'NotFoundError',
  'StorageUnavailableError',
  'TRACING_CHANNELS',
  'TooLargeError',
  'createImageHandler',
  'createImageStorage',
  'filesystemConfig',
  'imageStorage',
  'ipfsConfig',
  'parseImageRef',
  's3Config',
  'toInferenceFields'
]

/** Plumbing that no entry point exports. */
const INTERNAL = [
  'passThrough',
  'isMissing',
  'isUnavailable',
  'serviceUnavailable',
  'settingName',
  'traced',
  'readInput'
]

/**
 * Loads every entry point (`load` is `import` or `require`), then reports each one's names and
 * classes, each error class's name and first stack line, and for each entry point an error that
 * its code throws: its name and whether it is an instance of the main entry's classes.
 */
const REPORT = `
const specifier = subpath => subpath === '.' ? 'sai-image-storage' : 'sai-image-storage/' + subpath.slice(2)
const lib = {}
for (const subpath of ${JSON.stringify(ENTRY_POINTS)}) lib[subpath] = await load(specifier(subpath))
const main = lib['.']
const names = {}
const misnamed = []
const subErrors = []
const errors = {}
for (const [subpath, entry] of Object.entries(lib)) {
  names[subpath] = Object.keys(entry).sort()
  for (const [key, value] of Object.entries(entry)) {
    if (typeof value !== 'function' || !/^class\\b/.test(Function.prototype.toString.call(value))) continue
    if (value.name !== key) misnamed.push(subpath + ' ' + key + ' ' + value.name)
    if (!(value.prototype instanceof Error)) continue
    // an entry point's own error class (its constructor its own) extends one of the main entry's
    if (subpath !== '.') {
      subErrors.push(subpath + ' ' + key + ' ' + (value.prototype instanceof main.ImageStorageError))
      continue
    }
    const err = new value('a message', 'b')
    errors[key] = { name: err.name, stack: err.stack.split('\\n')[0], constructor: err.constructor.name }
  }
}
const root = require('node:fs').mkdtempSync(require('node:os').tmpdir() + '/sai-names-')
const memory = new lib['./drivers/memory'].MemoryDriver()
const closed = 'http://127.0.0.1:1'
const bucket = { bucket: 'frames', endpoint: closed }
const attempts = {
  '.': () => main.parseImageRef('../etc/passwd'),
  './drivers/fs': () => new lib['./drivers/fs'].FilesystemDriver({ root }).fetch('../etc/passwd'),
  './drivers/memory': () => memory.fetch('../etc/passwd'),
  './drivers/s3': () => new lib['./drivers/s3'].S3Driver(bucket).fetch('../etc/passwd'),
  './drivers/ipfs': () => new lib['./drivers/ipfs'].IpfsDriver({ apiUrl: closed }).fetch('../etc/passwd'),
  './replication': () => lib['./replication'].createReplicatedStorage({ primary: memory, replicas: [] }),
  './retention': () => lib['./retention'].prune(memory, { olderThan: -1 }),
  './jobs': () => lib['./jobs'].importTree(memory, root + '/missing', { mapping: root + '/import.jsonl' }),
  './variants': () => lib['./variants'].createVariants(memory),
  './dashboard': () => lib['./dashboard'].addImageHashColumn({ query: async () => ({ rows: [] }) }, 'Bad-Name'),
  './testing': () => memory.store(lib['./testing'].seededBytes(100, 'not an image')),
  './adapter': () => new lib['./adapter'].StorageFront({ driver: 'kv', location: 'kv', place: h => ({ hash: h, key: h }) }, {})
    .fetch('../etc/passwd')
}
const thrown = {}
for (const [subpath, attempt] of Object.entries(attempts)) {
  try {
    await attempt()
    thrown[subpath] = 'nothing thrown'
  } catch (err) {
    const ofMain = err instanceof main.ImageStorageError && err instanceof main[err.name]
    thrown[subpath] = { name: err.name, stack: err.stack.split('\\n')[0], ofMain }
  }
}
const factory = {
  fs: main.createImageStorage({ root }) instanceof lib['./drivers/fs'].FilesystemDriver,
  memory: main.createImageStorage({ driver: 'memory' }) instanceof lib['./drivers/memory'].MemoryDriver,
  s3: main.createImageStorage({ driver: 's3', ...bucket }) instanceof lib['./drivers/s3'].S3Driver,
  ipfs: main.createImageStorage({ driver: 'ipfs', apiUrl: closed }) instanceof lib['./drivers/ipfs'].IpfsDriver
}
console.log(JSON.stringify({ names, misnamed, errors, subErrors, thrown, factory }))
`

const ESM = 'const load = async s => await import(s)\n'
const FAIL = 'err => { console.error(err); process.exit(1) }'

async function report(format: 'esm' | 'cjs'): Promise<any> {
  const file = format === 'esm' ? 'names.mjs' : 'names.cjs'
  const text =
    format === 'esm'
      ? `import { createRequire } from 'node:module'\nconst require = createRequire(import.meta.url)\n${ESM}${REPORT}`
      : `const load = async s => require(s)\n;(async () => {\n${REPORT}\n})().catch(${FAIL})`
  const app = await application({ [file]: text })
  return JSON.parse(execFileSync(process.execPath, [file], { cwd: app, encoding: 'utf8' }))
}

describe('the public surface of the built package', () => {
  it('package.json "exports" has every entry point; typesVersions maps each subpath for moduleResolution node', () => {
    const pkg = JSON.parse(readFileSync(join(PACKAGE, 'package.json'), 'utf8'))
    expect(Object.keys(pkg.exports)).toEqual([...ENTRY_POINTS, './package.json'])
    for (const subpath of ENTRY_POINTS) {
      const file = subpath === '.' ? 'index' : subpath.slice(2)
      expect(pkg.exports[subpath]).toEqual({
        import: { types: `./dist/${file}.d.ts`, default: `./dist/${file}.js` },
        require: { types: `./dist/${file}.d.cts`, default: `./dist/${file}.cjs` }
      })
      if (subpath !== '.') expect(pkg.typesVersions['*'][file]).toEqual([`./dist/${file}.d.cts`])
    }
    expect(Object.keys(pkg.typesVersions['*'])).toHaveLength(ENTRY_POINTS.length - 1)
  })

  it.each(['esm', 'cjs'] as const)('%s: each entry point its names; class names kept; one class each', async format => {
    const { names, misnamed, errors, subErrors, thrown, factory } = await report(format)
    expect(names['.']).toEqual(MAIN)
    expect(names['./drivers/fs']).toEqual(['DEFAULT_ROOT', 'FilesystemDriver', 'PrefixSharding'])
    expect(names['./drivers/memory']).toEqual(['MemoryDriver'])
    expect(names['./retention']).toEqual(['RefSet', 'prune'])
    expect(names['./dashboard']).toEqual(['addImageHashColumn', 'backfillImageHashes'])
    expect(names['./adapter']).toEqual(['StorageFront', 'placed'])
    // no name is exported twice, and no plumbing at all
    const all = Object.values(names as Record<string, string[]>).flat()
    expect(all.filter((name, i) => all.indexOf(name) !== i)).toEqual([])
    expect(all.filter(name => INTERNAL.includes(name))).toEqual([])
    expect(misnamed).toEqual([])
    expect(Object.keys(errors).sort()).toEqual(MAIN.filter(name => name.endsWith('Error')))
    expect(subErrors).toEqual(['./replication TakeOverConflictError true'])
    for (const [key, error] of Object.entries(errors as Record<string, Record<string, string>>)) {
      const stack = expect.stringMatching(new RegExp(`^${key}: `))
      expect({ key, ...error }).toEqual({ key, name: key, constructor: key, stack })
    }
    // what each entry point's code throws is the main entry's class, named in its stack
    for (const subpath of ENTRY_POINTS) {
      const error = { name: expect.stringMatching(/Error$/), stack: expect.stringMatching(/^\w+Error: /), ofMain: true }
      expect({ subpath, ...thrown[subpath] }).toEqual({ subpath, ...error })
    }
    expect(thrown['.'].name).toBe('InvalidRefError')
    expect(thrown['./drivers/fs'].name).toBe('InvalidRefError')
    expect(thrown['./testing'].name).toBe('InvalidInputError')
    expect(thrown['./adapter'].name).toBe('InvalidRefError')
    expect(factory).toEqual({ fs: true, memory: true, s3: true, ipfs: true })
  })

  it('the ESM and the CommonJS builds export the same names from each entry point', async () => {
    expect((await report('cjs')).names).toEqual((await report('esm')).names)
  })

  it("the CLI's --verbose stack trace names the class", async () => {
    const dir = await tempDir()
    await writeFile(join(dir, 'notes.txt'), 'not an image')
    const run = spawnSync(
      process.execPath,
      [join(PACKAGE, 'dist/cli.js'), 'store', join(dir, 'notes.txt'), '--verbose'],
      { env: { ...process.env, SAI_IMAGE_STORAGE_PATH: await tempDir() }, encoding: 'utf8' }
    )
    expect(run.status).toBe(3)
    expect(run.stderr).toMatch(/^InvalidInputError: Input is not an image/m)
    expect(run.stderr).not.toMatch(/_InvalidInputError/)
  })
})
