"""The Python module that sai-image-storage replaces, for `npm run bench` (bench/run.mjs, section "python").

The inference service's own `storage.py` (../shared/peers/, unchanged: see its README) when it is beside the
checkout; otherwise this file's re-implementation of it (the algorithm of the module at the time the bench was
written):
- store: SHA-256, an exists check, a write to {hash}.tmp with aiofiles, a rename; no fsync, no
  verification;
- fetch: an exists check and an aiofiles read, unverified.

Usage: python3 storage_py_peer.py <root> <phase> <frames dir>
  phase: store (every frame), duplicate (every frame again), fetch (every frame by hash).
Loads the frames into memory first (not timed), then runs the phase sequentially, timing it alone,
and prints {"ops", "seconds", "opsPerSec", "peer"}; `peer` names the module that ran.
"""
import asyncio
import hashlib
import json
import os
import sys
import time
from pathlib import Path

import aiofiles


class ImageStorage:
    def __init__(self, root):
        self.root = Path(root)

    def get_path(self, image_hash):
        return self.root / image_hash[0:2] / image_hash[2:4] / f"{image_hash}.jpg"

    async def store(self, data):
        image_hash = hashlib.sha256(data).hexdigest()
        path = self.get_path(image_hash)
        if path.exists():
            return image_hash, True
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        async with aiofiles.open(tmp, "wb") as f:
            await f.write(data)
        os.rename(tmp, path)
        return image_hash, False

    async def fetch(self, image_hash):
        path = self.get_path(image_hash)
        if not path.exists():
            return None
        async with aiofiles.open(path, "rb") as f:
            return await f.read()


PEERS = Path(__file__).resolve().parent.parent.parent / "shared" / "peers"


def module_storage(root):
    """The service's own ImageStorage when shared/peers is beside the checkout, else the re-implementation."""
    if not (PEERS / "storage.py").is_file():
        return ImageStorage(root), "re-implementation (bench/storage_py_peer.py)"
    sys.path.insert(0, str(PEERS))
    import storage

    return storage.ImageStorage(base_path=root), "storage.py (shared/peers)"


async def main(root, phase, frames_dir):
    storage, peer = module_storage(root)
    frames = [p.read_bytes() for p in sorted(Path(frames_dir).iterdir())]
    hashes = [hashlib.sha256(f).hexdigest() for f in frames]
    started = time.perf_counter()
    if phase in ("store", "duplicate"):
        for frame in frames:
            await storage.store(frame)
    elif phase == "fetch":
        for image_hash in hashes:
            if await storage.fetch(image_hash) is None:
                raise SystemExit(f"missing {image_hash}")
    else:
        raise SystemExit(f"unknown phase {phase}")
    seconds = time.perf_counter() - started
    print(json.dumps({"ops": len(frames), "seconds": seconds, "opsPerSec": len(frames) / seconds, "peer": peer}))


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:4]))
