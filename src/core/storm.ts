/**
 * The storm guard of every repair: a pass that would quarantine, move or rewrite more objects than
 * a bit-rotting disk ever damages at once is not repairing bit rot. It is a layout setting that does
 * not match the store, a root that is not mounted, a bucket or prefix that is not the store's; a
 * repair then would empty the store. So it changes nothing unless forced, and says why.
 */

export interface StormLimit {
  /** More objects than this is a storm. Default 100. */
  count?: number
  /**
   * More than this fraction of the store's objects is a storm too (once more than `floor` objects
   * are found: a small store with two damaged frames is repaired). Default 0.5.
   */
  fraction?: number
  /** Default 10. */
  floor?: number
}

export interface Storm {
  /** What the repair would have acted on. */
  found: number
  /** The same (the name of earlier versions). */
  damaged: number
  /** Objects the pass saw in all. */
  objects: number
  /** The count limit, and the fraction. */
  limit: number
  fraction: number
  /** The likely cause, and what to do: for people, in text and JSON alike. */
  cause: string
  /** True when the repair changed nothing because of it (not forced). */
  refused: boolean
}

/** What a pass found, by kind, for the cause. */
export interface StormFindings {
  misnamed?: number
  /** Objects missing from the primary (or the only store). */
  missing?: number
  /** Copies missing from a replica, by its name. */
  missingOn?: Record<string, number>
  damaged?: number
}

/** The storm, if `found` of `objects` is one. */
export function stormOf(found: number, objects: number, by: StormFindings, limits: StormLimit = {}): Storm | undefined {
  const limit = limits.count ?? 100
  const fraction = limits.fraction ?? 0.5
  const floor = limits.floor ?? 10
  if (!(found > limit || (found > floor && found > fraction * objects))) return undefined
  return { found, damaged: found, objects, limit, fraction, cause: causeOf(by), refused: true }
}

function causeOf(by: StormFindings): string {
  const [replica, lacking] = Object.entries(by.missingOn ?? {}).sort((a, b) => b[1] - a[1])[0] ?? ['', 0]
  const most = Math.max(by.misnamed ?? 0, by.missing ?? 0, lacking, by.damaged ?? 0)
  const force = 'if you are sure the store itself is damaged this much, run the repair again with --force'
  if (most === (by.misnamed ?? 0)) {
    return (
      'most objects are not where the layout setting puts them: the sharding option (or ' +
      'SAI_IMAGE_STORAGE_SHARD_DEPTH and SAI_IMAGE_STORAGE_SHARD_WIDTH) likely differs from the ' +
      `store's layout; set it as the store was written, or ${force}`
    )
  }
  if (most === (by.missing ?? 0)) {
    return (
      'most objects are missing from the primary: its root is likely not mounted, or the root option (or ' +
      `SAI_IMAGE_STORAGE_PATH) names another folder; mount it or fix the setting, or ${force}`
    )
  }
  if (most === lacking) {
    return (
      `most copies are missing from the replica ${replica}: its bucket, prefix or path setting likely names another ` +
      `place (SAI_S3_BUCKET, SAI_S3_PREFIX, SAI_IMAGE_STORAGE_REPLICA_PATH); fix it, or ${force}`
    )
  }
  return `this many damaged objects is a failing disk or a wrong mount, not bit rot: check the disk and the mount, or ${force}`
}
