/**
 * ListObjectsV2 without the SDK: the query of one page, and its XML answer read. Sent by the direct
 * client (direct.ts) like the PUT and GET, so that a `sai-images replicate` (its drain's uploads,
 * then the reconcile's listing) never loads the SDK: loading it took ~60-150 ms of a ~1.4 s run
 * (bench/RESULTS-replication-cli.md). Keys come URL-encoded (`encoding-type=url`): a key may hold
 * characters XML 1.0 cannot carry. The answer's shape is fixed (AWS and Ceph alike: no attributes,
 * no CDATA), so a reader of the few elements we use is enough; anything else is a malformed answer.
 */
/** An object of a listing: what the driver reads of it. */
export interface ListedObject {
  Key: string
  Size?: number
  LastModified?: Date
}

/** One page: its objects, and the token of the next page if the listing was cut. */
export interface ListPage {
  objects: ListedObject[]
  next?: string
}

export interface PageOptions {
  /** The previous page's `next`. */
  token?: string
  /** Keys after this one only (the first page). */
  startAfter?: string
  /** At most this many keys (the server's default, and its limit: 1000). */
  maxKeys?: number
}

/** The query of one page of the keys under `prefix`. */
export function listQuery(prefix: string, options: PageOptions = {}): Record<string, string> {
  const query: Record<string, string> = { 'list-type': '2', 'encoding-type': 'url' }
  if (prefix !== '') query.prefix = prefix
  if (options.token !== undefined) query['continuation-token'] = options.token
  else if (options.startAfter !== undefined) query['start-after'] = options.startAfter
  if (options.maxKeys !== undefined) query['max-keys'] = String(options.maxKeys)
  return query
}

/** A page's answer (a `ListBucketResult`) read; throws on anything that is not one. */
export function readListing(xml: string): ListPage {
  if (!/<ListBucketResult[\s>]/.test(xml)) throw malformed('no ListBucketResult')
  const objects: ListedObject[] = []
  // the page's own elements are outside its <Contents>: cut those out first
  const outside = xml.replace(/<Contents>([\s\S]*?)<\/Contents>/g, (_, contents: string) => {
    const key = element(contents, 'Key')
    if (key === undefined) throw malformed('an object without a Key')
    const size = element(contents, 'Size')
    const modified = element(contents, 'LastModified')
    const object: ListedObject = { Key: urlDecoded(key) }
    if (size !== undefined) object.Size = number(size)
    if (modified !== undefined) object.LastModified = date(modified)
    objects.push(object)
    return ''
  })
  const truncated = element(outside, 'IsTruncated') === 'true'
  const next = element(outside, 'NextContinuationToken')
  if (truncated && (next === undefined || next === '')) throw malformed('a cut listing without NextContinuationToken')
  return truncated ? { objects, next } : { objects }
}

const ELEMENTS = new Map<string, RegExp>()

/** The text of the first `<name>` in `xml`, entities decoded; undefined if there is none. */
function element(xml: string, name: string): string | undefined {
  let pattern = ELEMENTS.get(name)
  if (pattern === undefined) ELEMENTS.set(name, (pattern = new RegExp(`<${name}>([^<]*)</${name}>|<${name}\\s*/>`)))
  const match = pattern.exec(xml)
  if (match === null) return undefined
  const text = match[1] ?? ''
  return text.includes('&') ? entitiesDecoded(text) : text
}

const NAMED: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" }

/** XML's five named entities and its character references (`&#60;`, `&#x3C;`). */
function entitiesDecoded(text: string): string {
  return text.replace(/&(#x[0-9a-fA-F]+|#[0-9]+|[a-z]+);/g, (whole, name: string) => {
    if (name.startsWith('#x')) return codePoint(Number.parseInt(name.slice(2), 16))
    if (name.startsWith('#')) return codePoint(Number.parseInt(name.slice(1), 10))
    const named = NAMED[name]
    if (named === undefined) throw malformed(`an unknown entity ${whole}`)
    return named
  })
}

function codePoint(code: number): string {
  if (!(code > 0 && code <= 0x10ffff)) throw malformed(`a character reference out of range (${code})`)
  return String.fromCodePoint(code)
}

/** A key as `encoding-type=url` sends it: percent-encoded UTF-8; `+` is a space (AWS; Ceph sends %20 and %2B). */
function urlDecoded(text: string): string {
  try {
    return decodeURIComponent(text.replace(/\+/g, ' '))
  } catch {
    throw malformed('a key that is not URL-encoded UTF-8')
  }
}

function number(text: string): number {
  if (!/^\d+$/.test(text)) throw malformed(`a Size that is not a number (${text})`)
  return Number(text)
}

function date(text: string): Date {
  const parsed = new Date(text)
  if (Number.isNaN(parsed.getTime())) throw malformed(`a LastModified that is not a time (${text})`)
  return parsed
}

/** A listing's answer we cannot read: the caller makes it `ERR_STORAGE_UNAVAILABLE` (client.ts). */
function malformed(what: string): Error {
  return Object.assign(new Error(`a listing's answer with ${what}`), { name: 'MalformedListing' })
}
