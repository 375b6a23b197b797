// crashfs: a FUSE passthrough that records every change a workload makes to a folder, so that the
// crash harness (test/crash) can build the states a power cut may leave. It mounts SOURCE at MOUNT
// and appends one JSON line per change to LOG, with a sequence number, the bytes of each write in
// LOG.data. fsync and fsyncdir are recorded, not performed: durability is the harness's model,
// not the disk's. A lookup of `.crashfs-ack-<label>` in the mount's root records an acknowledgement
// (the workload's `store` resolved) in order with the changes, and answers ENOENT. A lookup of
// `.crashfs-unreadable-<inode>` makes that file unreadable, as a failing disk's sectors are: opened
// with direct I/O (no page cache answers for it), every read of it answers EIO. Answers ENOENT too.
//
//	crashfs SOURCE MOUNT LOG
//
// It prints "ready" once mounted and unmounts on SIGTERM or SIGINT.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"

	"github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
)

const ackPrefix = ".crashfs-ack-"
const unreadablePrefix = ".crashfs-unreadable-"

// unreadable: the inodes whose reads answer EIO.
var unreadable sync.Map

// recorder serializes each change with its record: the log's order is the order the changes took effect.
type recorder struct {
	mu   sync.Mutex
	seq  int64
	log  *bufio.Writer
	data *os.File
	at   int64 // bytes in LOG.data
}

type record map[string]any

func (r *recorder) add(rec record) {
	r.seq++
	rec["seq"] = r.seq
	line, _ := json.Marshal(rec)
	r.log.Write(append(line, '\n'))
}

// addData records a write: its bytes go to the side file.
func (r *recorder) addData(rec record, data []byte) {
	r.data.Write(data)
	rec["data"] = r.at
	r.at += int64(len(data))
	r.add(rec)
}

func (r *recorder) flush() {
	r.log.Flush()
}

var rec *recorder

type node struct {
	*fs.LoopbackNode
}

func (n *node) ino() uint64 { return n.StableAttr().Ino }

func (n *node) under(name string) string {
	return filepath.Join(n.RootData.Path, n.Path(nil), name)
}

// mtime of a file in the source, in nanoseconds (the harness gives each restored file its mtime).
func mtimeOf(path string) int64 {
	var st syscall.Stat_t
	if syscall.Lstat(path, &st) != nil {
		return 0
	}
	return st.Mtim.Nano()
}

func inoOf(path string) uint64 {
	var st syscall.Stat_t
	if syscall.Lstat(path, &st) != nil {
		return 0
	}
	return st.Ino
}

func (n *node) Lookup(ctx context.Context, name string, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	if n.IsRoot() && strings.HasPrefix(name, ackPrefix) {
		rec.mu.Lock()
		rec.add(record{"op": "ack", "label": strings.TrimPrefix(name, ackPrefix)})
		rec.flush()
		rec.mu.Unlock()
		return nil, syscall.ENOENT
	}
	if n.IsRoot() && strings.HasPrefix(name, unreadablePrefix) {
		if ino, err := strconv.ParseUint(strings.TrimPrefix(name, unreadablePrefix), 10, 64); err == nil {
			unreadable.Store(ino, true)
		}
		return nil, syscall.ENOENT
	}
	return n.LoopbackNode.Lookup(ctx, name, out)
}

func isUnreadable(ino uint64) bool {
	_, ok := unreadable.Load(ino)
	return ok
}

func (n *node) Mkdir(ctx context.Context, name string, mode uint32, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	ch, errno := n.LoopbackNode.Mkdir(ctx, name, mode, out)
	if errno == 0 {
		rec.add(record{"op": "mkdir", "dir": n.ino(), "name": name, "ino": ch.StableAttr().Ino, "mt": mtimeOf(n.under(name))})
	}
	return ch, errno
}

func (n *node) Create(ctx context.Context, name string, flags uint32, mode uint32, out *fuse.EntryOut) (*fs.Inode, fs.FileHandle, uint32, syscall.Errno) {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	ch, fh, fuseFlags, errno := n.LoopbackNode.Create(ctx, name, flags, mode, out)
	if errno != 0 {
		return ch, fh, fuseFlags, errno
	}
	ino := ch.StableAttr().Ino
	rec.add(record{"op": "create", "dir": n.ino(), "name": name, "ino": ino, "mt": mtimeOf(n.under(name))})
	return ch, wrapFile(fh, ino, flags, n.under(name)), fuseFlags, 0
}

func (n *node) Open(ctx context.Context, flags uint32) (fs.FileHandle, uint32, syscall.Errno) {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	fh, fuseFlags, errno := n.LoopbackNode.Open(ctx, flags)
	if errno != 0 {
		return fh, fuseFlags, errno
	}
	path := n.under("")
	if flags&syscall.O_TRUNC != 0 && flags&syscall.O_ACCMODE != syscall.O_RDONLY {
		rec.add(record{"op": "truncate", "ino": n.ino(), "size": 0, "mt": mtimeOf(path)})
	}
	if isUnreadable(n.ino()) {
		fuseFlags |= fuse.FOPEN_DIRECT_IO
	}
	return wrapFile(fh, n.ino(), flags, path), fuseFlags, 0
}

func (n *node) Link(ctx context.Context, target fs.InodeEmbedder, name string, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	ch, errno := n.LoopbackNode.Link(ctx, target, name, out)
	if errno == 0 {
		rec.add(record{"op": "link", "dir": n.ino(), "name": name, "ino": ch.StableAttr().Ino})
	}
	return ch, errno
}

func (n *node) Unlink(ctx context.Context, name string) syscall.Errno {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	ino := inoOf(n.under(name))
	errno := n.LoopbackNode.Unlink(ctx, name)
	if errno == 0 {
		rec.add(record{"op": "unlink", "dir": n.ino(), "name": name, "ino": ino})
	}
	return errno
}

func (n *node) Rmdir(ctx context.Context, name string) syscall.Errno {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	ino := inoOf(n.under(name))
	errno := n.LoopbackNode.Rmdir(ctx, name)
	if errno == 0 {
		rec.add(record{"op": "rmdir", "dir": n.ino(), "name": name, "ino": ino})
	}
	return errno
}

func (n *node) Rename(ctx context.Context, name string, newParent fs.InodeEmbedder, newName string, flags uint32) syscall.Errno {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	ino := inoOf(n.under(name))
	to := newParent.(*node)
	replaced := inoOf(to.under(newName))
	errno := n.LoopbackNode.Rename(ctx, name, newParent, newName, flags)
	if errno == 0 {
		rec.add(record{"op": "rename", "dir": n.ino(), "name": name, "to": to.ino(), "newName": newName, "ino": ino,
			"replaced": replaced, "flags": flags})
	}
	return errno
}

func (n *node) Symlink(ctx context.Context, target, name string, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	return nil, syscall.ENOTSUP // the library makes none; the harness models none
}

func (n *node) Mknod(ctx context.Context, name string, mode, rdev uint32, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	return nil, syscall.ENOTSUP
}

// CopyFileRange refused: the kernel falls back to reads and writes, which are recorded.
func (n *node) CopyFileRange(ctx context.Context, fhIn fs.FileHandle, offIn uint64, out *fs.Inode, fhOut fs.FileHandle,
	offOut uint64, length uint64, flags uint64) (uint32, syscall.Errno) {
	return 0, syscall.ENOSYS
}

func (n *node) Setattr(ctx context.Context, f fs.FileHandle, in *fuse.SetAttrIn, out *fuse.AttrOut) syscall.Errno {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if w, ok := f.(*file); ok {
		f = w.inner // the loopback's own handle: its setattr uses the descriptor
	}
	errno := n.LoopbackNode.Setattr(ctx, f, in, out)
	if errno != 0 {
		return errno
	}
	r := record{"op": "setattr", "ino": n.ino()}
	if size, ok := in.GetSize(); ok {
		r["size"] = size
	}
	if _, ok := in.GetMTime(); ok || in.Valid&fuse.FATTR_MTIME_NOW != 0 {
		r["mtime"] = mtimeOf(n.under(""))
	}
	if mode, ok := in.GetMode(); ok {
		r["mode"] = mode
	}
	r["mt"] = mtimeOf(n.under(""))
	rec.add(r)
	return 0
}

func (n *node) OpendirHandle(ctx context.Context, flags uint32) (fs.FileHandle, uint32, syscall.Errno) {
	fh, fuseFlags, errno := n.LoopbackNode.OpendirHandle(ctx, flags)
	if errno != 0 {
		return fh, fuseFlags, errno
	}
	return &dir{inner: fh.(fs.DirStream), ino: n.ino()}, fuseFlags, 0
}

// file wraps the loopback's handle, without its PassthroughFd: every WRITE then reaches this process.
type file struct {
	inner fs.FileHandle
	ino   uint64
	sync  bool // opened O_DSYNC or O_SYNC: each write is durable when it returns
	path  string
}

func wrapFile(fh fs.FileHandle, ino uint64, flags uint32, path string) *file {
	return &file{inner: fh, ino: ino, sync: flags&(syscall.O_DSYNC|syscall.O_SYNC) != 0, path: path}
}

func (f *file) Write(ctx context.Context, data []byte, off int64) (uint32, syscall.Errno) {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	n, errno := f.inner.(fs.FileWriter).Write(ctx, data, off)
	if n > 0 {
		rec.addData(record{"op": "write", "ino": f.ino, "off": off, "len": n, "sync": f.sync, "mt": mtimeOf(f.path)},
			data[:n])
	}
	return n, errno
}

func (f *file) Fsync(ctx context.Context, flags uint32) syscall.Errno {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	rec.add(record{"op": "fsync", "ino": f.ino})
	return 0
}

func (f *file) Read(ctx context.Context, dest []byte, off int64) (fuse.ReadResult, syscall.Errno) {
	if isUnreadable(f.ino) {
		return nil, syscall.EIO
	}
	return f.inner.(fs.FileReader).Read(ctx, dest, off)
}

func (f *file) Release(ctx context.Context) syscall.Errno {
	return f.inner.(fs.FileReleaser).Release(ctx)
}

func (f *file) Flush(ctx context.Context) syscall.Errno {
	return f.inner.(fs.FileFlusher).Flush(ctx)
}

func (f *file) Getattr(ctx context.Context, out *fuse.AttrOut) syscall.Errno {
	return f.inner.(fs.FileGetattrer).Getattr(ctx, out)
}

func (f *file) Lseek(ctx context.Context, off uint64, whence uint32) (uint64, syscall.Errno) {
	return f.inner.(fs.FileLseeker).Lseek(ctx, off, whence)
}

func (f *file) Getlk(ctx context.Context, owner uint64, lk *fuse.FileLock, flags uint32, out *fuse.FileLock) syscall.Errno {
	return f.inner.(fs.FileGetlker).Getlk(ctx, owner, lk, flags, out)
}

func (f *file) Setlk(ctx context.Context, owner uint64, lk *fuse.FileLock, flags uint32) syscall.Errno {
	return f.inner.(fs.FileSetlker).Setlk(ctx, owner, lk, flags)
}

func (f *file) Setlkw(ctx context.Context, owner uint64, lk *fuse.FileLock, flags uint32) syscall.Errno {
	return f.inner.(fs.FileSetlkwer).Setlkw(ctx, owner, lk, flags)
}

// Allocate refused: the harness does not model preallocation, and the library uses none.
func (f *file) Allocate(ctx context.Context, off uint64, size uint64, mode uint32) syscall.Errno {
	return syscall.ENOTSUP
}

// dir wraps the loopback's directory handle so that FSYNCDIR is recorded.
type dir struct {
	inner fs.DirStream
	ino   uint64
}

func (d *dir) HasNext() bool                        { return d.inner.HasNext() }
func (d *dir) Next() (fuse.DirEntry, syscall.Errno) { return d.inner.Next() }
func (d *dir) Close()                               { d.inner.Close() }

func (d *dir) Readdirent(ctx context.Context) (*fuse.DirEntry, syscall.Errno) {
	return d.inner.(fs.FileReaddirenter).Readdirent(ctx)
}

func (d *dir) Seekdir(ctx context.Context, off uint64) syscall.Errno {
	return d.inner.(fs.FileSeekdirer).Seekdir(ctx, off)
}

func (d *dir) Releasedir(ctx context.Context, flags uint32) {
	d.inner.(fs.FileReleasedirer).Releasedir(ctx, flags)
}

func (d *dir) Fsyncdir(ctx context.Context, flags uint32) syscall.Errno {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	rec.add(record{"op": "fsyncdir", "ino": d.ino})
	return 0
}

func main() {
	if len(os.Args) != 4 {
		fmt.Fprintln(os.Stderr, "usage: crashfs SOURCE MOUNT LOG")
		os.Exit(2)
	}
	source, mount, logPath := os.Args[1], os.Args[2], os.Args[3]
	logFile, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
	if err != nil {
		fail(err)
	}
	data, err := os.OpenFile(logPath+".data", os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
	if err != nil {
		fail(err)
	}
	rec = &recorder{log: bufio.NewWriterSize(logFile, 1<<20), data: data}
	var st syscall.Stat_t
	if err := syscall.Stat(source, &st); err != nil {
		fail(err)
	}
	root := &fs.LoopbackRoot{Path: source, Dev: uint64(st.Dev)}
	root.NewNode = func(r *fs.LoopbackRoot, parent *fs.Inode, name string, st *syscall.Stat_t) fs.InodeEmbedder {
		return &node{&fs.LoopbackNode{RootData: r}}
	}
	rootNode := root.NewNode(root, nil, "", &st)
	root.RootNode = rootNode
	// the harness knows the root by its inode number in the source
	rec.mu.Lock()
	rec.add(record{"op": "root", "ino": st.Ino})
	rec.mu.Unlock()
	server, err := fs.Mount(mount, rootNode, &fs.Options{
		MountOptions:   fuse.MountOptions{DirectMount: true, AllowOther: true, FsName: "crashfs", Name: "crashfs"},
		RootStableAttr: &fs.StableAttr{Ino: st.Ino},
	})
	if err != nil {
		fail(err)
	}
	fmt.Println("ready")
	signals := make(chan os.Signal, 1)
	signal.Notify(signals, syscall.SIGTERM, syscall.SIGINT)
	go func() {
		<-signals
		server.Unmount()
	}()
	server.Wait()
	rec.mu.Lock()
	rec.flush()
	rec.mu.Unlock()
	logFile.Close()
	data.Close()
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "crashfs:", err)
	os.Exit(1)
}
