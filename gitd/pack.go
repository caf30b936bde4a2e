package gitd

import (
	"bufio"
	"bytes"
	"compress/zlib"
	"crypto/sha1"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/go-git/go-git/v5/plumbing/format/idxfile"
	"github.com/go-git/go-git/v5/plumbing/format/packfile"

	"github.com/baleen-ci/baleen"
)

// storePack reads one packfile from r, exactly to its end (the client sends nothing after it, and does not
// close its side either), and stores it in the bare repository at repo as objects/pack/pack-<sum>.pack with
// its index, the way git's index-pack does. The pack is streamed to a temporary file, not held in memory;
// the temporary file is removed whatever happens. It returns the number of objects stored.
//
// A thin pack (deltas against objects outside it) fails to index and is refused: the server advertises
// no-thin, so git never sends one.
func storePack(repo string, r io.Reader) (int, error) {
	dir := filepath.Join(repo, "objects", "pack")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return 0, fmt.Errorf("pack dir: %w", err)
	}
	tmp, err := os.CreateTemp(dir, "tmp_pack_")
	if err != nil {
		return 0, fmt.Errorf("temporary pack: %w", err)
	}
	kept := false
	defer func() {
		tmp.Close()
		if !kept {
			os.Remove(tmp.Name())
		}
	}()

	fw := bufio.NewWriterSize(tmp, 64<<10)
	n, err := copyPack(fw, r)
	if err != nil {
		return 0, err
	}
	if err := fw.Flush(); err != nil {
		return 0, fmt.Errorf("write pack: %w", err)
	}
	if n == 0 {
		return 0, nil
	}
	if _, err := tmp.Seek(0, io.SeekStart); err != nil {
		return 0, fmt.Errorf("index pack: %w", err)
	}
	idx := new(idxfile.Writer)
	parser, err := packfile.NewParser(packfile.NewScanner(tmp), idx)
	if err != nil {
		return 0, fmt.Errorf("index pack: %w", err)
	}
	sum, err := parser.Parse()
	if err != nil {
		return 0, fmt.Errorf("index pack (a thin pack, or objects missing): %w", err)
	}
	index, err := idx.Index()
	if err != nil {
		return 0, fmt.Errorf("index pack: %w", err)
	}
	base := filepath.Join(dir, "pack-"+sum.String())
	if err := writeIndex(base+".idx", index); err != nil {
		return 0, err
	}
	if err := tmp.Chmod(0o444); err != nil {
		return 0, fmt.Errorf("store pack: %w", err)
	}
	if err := os.Rename(tmp.Name(), base+".pack"); err != nil {
		return 0, fmt.Errorf("store pack: %w", err)
	}
	kept = true
	return int(n), nil
}

func writeIndex(path string, index *idxfile.MemoryIndex) error {
	f, err := os.CreateTemp(filepath.Dir(path), "tmp_idx_")
	if err != nil {
		return fmt.Errorf("pack index: %w", err)
	}
	w := bufio.NewWriter(f)
	_, err = idxfile.NewEncoder(w).Encode(index)
	err = errors.Join(err, w.Flush(), f.Chmod(0o444), f.Close())
	if err == nil {
		err = os.Rename(f.Name(), path)
	}
	if err != nil {
		return errors.Join(fmt.Errorf("pack index: %w", err), os.Remove(f.Name()))
	}
	return nil
}

// Limits on what one push may send. The pack is indexed after it is stored, and the indexer holds each
// object whole in memory, so a small pack of highly compressed or delta-expanded objects must not be able to
// claim gigabytes.
const (
	// maxPackObjects bounds the object count a pack header may claim.
	maxPackObjects = 10_000_000
	// MaxObjectBytes bounds the size of one object, as stored or as a delta rebuilds it.
	MaxObjectBytes = 1 << 30
	// MaxPackBytes bounds the size of one pack as sent.
	MaxPackBytes = 8 << 30
)

// copyPack copies one packfile from r to w, reading no further than its trailer, and checks its structure
// and its checksum on the way. It returns the number of objects in the pack.
func copyPack(w io.Writer, r io.Reader) (uint32, error) {
	limited := &io.LimitedReader{R: r, N: MaxPackBytes + 1}
	br := bufio.NewReaderSize(limited, 64<<10)
	h := sha1.New()
	tr := &teeByteReader{r: br, w: io.MultiWriter(w, h)}

	var hdr [12]byte
	if _, err := io.ReadFull(tr, hdr[:]); err != nil {
		return 0, fmt.Errorf("pack header: %w", err)
	}
	if !bytes.Equal(hdr[:4], []byte("PACK")) {
		return 0, fmt.Errorf("pack header: not a packfile: %w", baleen.ErrInvalid)
	}
	if v := binary.BigEndian.Uint32(hdr[4:8]); v != 2 && v != 3 {
		return 0, fmt.Errorf("pack version %d is not supported: %w", v, baleen.ErrInvalid)
	}
	count := binary.BigEndian.Uint32(hdr[8:12])
	if count > maxPackObjects {
		return 0, fmt.Errorf("pack claims %d objects: %w", count, baleen.ErrInvalid)
	}
	for i := uint32(0); i < count; i++ {
		if err := skipPackObject(tr); err != nil {
			if limited.N <= 0 {
				return 0, fmt.Errorf("the pack is larger than %d GiB: %w", MaxPackBytes>>30, baleen.ErrInvalid)
			}
			return 0, fmt.Errorf("pack object %d of %d: %w", i+1, count, err)
		}
		if tr.err != nil {
			return 0, fmt.Errorf("write pack: %w", tr.err)
		}
	}
	tr.flush()
	if tr.err != nil {
		return 0, fmt.Errorf("write pack: %w", tr.err)
	}
	want := h.Sum(nil)
	var trailer [20]byte
	if _, err := io.ReadFull(br, trailer[:]); err != nil {
		return 0, fmt.Errorf("pack trailer: %w", err)
	}
	if !bytes.Equal(trailer[:], want) {
		return 0, fmt.Errorf("pack checksum mismatch: %w", baleen.ErrInvalid)
	}
	if _, err := w.Write(trailer[:]); err != nil {
		return 0, fmt.Errorf("write pack: %w", err)
	}
	return count, nil
}

// skipPackObject reads one object entry: its header, its delta base if any, and its zlib stream, which it
// inflates to find its end and check its size.
func skipPackObject(r *teeByteReader) error {
	b, err := r.ReadByte()
	if err != nil {
		return err
	}
	typ := (b >> 4) & 7
	size := uint64(b & 15)
	for shift := uint(4); b&0x80 != 0; shift += 7 {
		if shift > 57 {
			return fmt.Errorf("object size too long: %w", baleen.ErrInvalid)
		}
		if b, err = r.ReadByte(); err != nil {
			return err
		}
		size |= uint64(b&0x7f) << shift
	}
	if size > MaxObjectBytes {
		return fmt.Errorf("object of %d bytes is over the limit of %d MiB: %w", size, MaxObjectBytes>>20, baleen.ErrInvalid)
	}
	delta := typ == 6 || typ == 7
	switch typ {
	case 1, 2, 3, 4: // commit, tree, blob, tag
	case 6: // ofs-delta: a base offset, a varint
		for i := 0; ; i++ {
			if i > 9 {
				return fmt.Errorf("delta offset too long: %w", baleen.ErrInvalid)
			}
			if b, err = r.ReadByte(); err != nil {
				return err
			}
			if b&0x80 == 0 {
				break
			}
		}
	case 7: // ref-delta: a base object id
		var id [20]byte
		if _, err := io.ReadFull(r, id[:]); err != nil {
			return err
		}
	default:
		return fmt.Errorf("object type %d: %w", typ, baleen.ErrInvalid)
	}
	zr, err := zlib.NewReader(r)
	if err != nil {
		return fmt.Errorf("inflate: %w", err)
	}
	// Never inflate past what the header declared, whatever the stream holds.
	body := io.LimitReader(zr, int64(size)+1)
	var n int64
	if delta {
		// A delta starts with the sizes of its base and of the object it rebuilds: bound the latter too.
		cr := &countingByteReader{r: bufio.NewReader(body)}
		if _, err := binary.ReadUvarint(cr); err != nil {
			return fmt.Errorf("delta base size: %w", baleen.ErrInvalid)
		}
		target, err := binary.ReadUvarint(cr)
		if err != nil {
			return fmt.Errorf("delta target size: %w", baleen.ErrInvalid)
		}
		if target > MaxObjectBytes {
			return fmt.Errorf("delta rebuilds an object of %d bytes, over the limit of %d MiB: %w", target, MaxObjectBytes>>20, baleen.ErrInvalid)
		}
		rest, err := io.Copy(io.Discard, cr.r)
		n = cr.n + rest
		if err != nil {
			return fmt.Errorf("inflate: %w", err)
		}
	} else if n, err = io.Copy(io.Discard, body); err != nil {
		return fmt.Errorf("inflate: %w", err)
	}
	if uint64(n) != size {
		return fmt.Errorf("object inflates to %d bytes, header says %d: %w", n, size, baleen.ErrInvalid)
	}
	return zr.Close()
}

// teeByteReader reads from r and writes every byte it hands out to w. It is an io.ByteReader, so that zlib
// reads from it byte by byte where it needs to and never past the end of a stream. Bytes handed out one by
// one are gathered and written in blocks; flush writes the rest. A write error is kept in err, for the
// caller to check.
type teeByteReader struct {
	r       *bufio.Reader
	w       io.Writer
	pending []byte
	err     error
}

func (t *teeByteReader) write(p []byte) {
	if t.err == nil {
		_, t.err = t.w.Write(p)
	}
}

func (t *teeByteReader) flush() {
	if len(t.pending) > 0 {
		t.write(t.pending)
		t.pending = t.pending[:0]
	}
}

func (t *teeByteReader) Read(p []byte) (int, error) {
	t.flush()
	n, err := t.r.Read(p)
	if n > 0 {
		t.write(p[:n])
	}
	return n, err
}

func (t *teeByteReader) ReadByte() (byte, error) {
	b, err := t.r.ReadByte()
	if err != nil {
		return b, err
	}
	if t.pending == nil {
		t.pending = make([]byte, 0, 32<<10)
	}
	t.pending = append(t.pending, b)
	if len(t.pending) == cap(t.pending) {
		t.flush()
	}
	return b, nil
}

// countingByteReader is an io.ByteReader that counts the bytes it hands out.
type countingByteReader struct {
	r *bufio.Reader
	n int64
}

func (c *countingByteReader) ReadByte() (byte, error) {
	b, err := c.r.ReadByte()
	if err == nil {
		c.n++
	}
	return b, err
}
