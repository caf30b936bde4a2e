package store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"
	"time"

	"github.com/baleen-ci/baleen"
	"github.com/dgraph-io/badger/v4"
)

const (
	// chunkSize is the most bytes one log chunk holds, and the buffered output that makes a LogWriter
	// commit.
	chunkSize = 32 << 10
	// flushAge is how long a LogWriter holds output before it commits it at the next write: short enough
	// that a crash loses little of a slow build's log, long enough that a chatty build writes few chunks.
	flushAge = time.Second
	// DefaultLogLimit is the most bytes of output LogWriter keeps of one build; LogWriterLimit sets another.
	DefaultLogLimit = 64 << 20
)

// TruncatedMarker is the line a build's log ends with when its output passed the log limit: the output up
// to the limit is kept, the rest is dropped, and the build goes on and is recorded as usual.
const TruncatedMarker = "\n[baleen: this build's output passed the log limit of %d bytes; the rest is not kept]\n"

// LogWriter returns the writer of the log of build number of project. Output written to it is buffered
// and committed in chunks (see doc.go), and Log sees it at once, flushed or not. Close commits the rest and
// syncs it to disk. A build has at most one open writer: a second returns ErrConflict until the first is
// closed; a later writer appends to what the earlier ones wrote. It returns ErrNotFound if the build does
// not exist. Writers of different builds run concurrently; one writer is safe for concurrent use.
func (s *Store) LogWriter(ctx context.Context, project string, number int) (io.WriteCloser, error) {
	return s.LogWriterLimit(ctx, project, number, DefaultLogLimit)
}

// LogWriterLimit is LogWriter with a limit of its own on the log's size, in bytes (with all earlier
// writers' output): past it, the writer writes TruncatedMarker once and drops the rest, still reporting
// every write as done, so that a build that prints without end fills neither the disk nor the memory and
// is still recorded. A limit of 0 or less means DefaultLogLimit.
func (s *Store) LogWriterLimit(ctx context.Context, project string, number int, limit int64) (io.WriteCloser, error) {
	if err := checkBuild(project, number); err != nil {
		return nil, fmt.Errorf("log writer: %w", err)
	}
	if limit <= 0 {
		limit = DefaultLogLimit
	}
	name := buildName(project, number)
	w := &logWriter{s: s, project: project, number: number, limit: limit}

	s.writersMu.Lock()
	if _, ok := s.writers[name]; ok {
		s.writersMu.Unlock()
		return nil, fmt.Errorf("log writer: build %s has an open log writer: %w", name, baleen.ErrConflict)
	}
	s.writers[name] = w
	s.writersMu.Unlock()

	// The end of the log is read only once w is registered: a writer closed just before has finished
	// its last commit by the time it unregisters, so its chunks are seen and never overwritten.
	err := s.view(ctx, func(txn *badger.Txn) error {
		if _, err := txn.Get(buildKey(project, number)); err != nil {
			return notFound("build "+name, err)
		}
		var err error
		w.off, err = logEnd(txn, project, number)
		w.full = w.off >= limit
		return err
	})
	if err != nil {
		s.unregister(w)
		return nil, fmt.Errorf("log writer: %w", err)
	}
	return w, nil
}

// unregister forgets the open writer w.
func (s *Store) unregister(w *logWriter) {
	name := buildName(w.project, w.number)
	s.writersMu.Lock()
	if s.writers[name] == w {
		delete(s.writers, name)
	}
	s.writersMu.Unlock()
}

// logEnd returns the length of the committed log of a build: the end of its last chunk.
func logEnd(txn *badger.Txn, project string, number int) (int64, error) {
	prefix := logPrefix(project, number)
	it := txn.NewIterator(badger.IteratorOptions{Prefix: prefix, Reverse: true})
	defer it.Close()
	it.Seek(append(slices.Clone(prefix), 0xff))
	if !it.Valid() {
		return 0, nil
	}
	item := it.Item()
	start, err := chunkOffset(item.Key(), prefix)
	if err != nil {
		return 0, err
	}
	var n int
	if err := item.Value(func(v []byte) error { n = len(v); return nil }); err != nil {
		return 0, err
	}
	return start + int64(n), nil
}

// logWriter appends to one build's log.
type logWriter struct {
	s       *Store
	project string
	number  int

	mu sync.Mutex
	// off is the length of the committed log; buf the output not yet committed, which follows it.
	off int64
	buf []byte
	// limit is the most bytes the log keeps; full is set once it holds them (and the marker).
	limit int64
	full  bool
	// since is when buf got its oldest byte; timer commits buf flushAge after that, so that the last
	// output of a build that then goes quiet is on disk before a crash, not only once more output comes.
	since  time.Time
	timer  *time.Timer
	closed bool
}

// Write buffers p and commits the buffer once it holds a chunk or its oldest byte is flushAge old. When the
// commit fails, p is kept in the buffer, and Write reports len(p) with the error.
func (w *logWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return 0, fmt.Errorf("write log of build %s: writer is closed", buildName(w.project, w.number))
	}
	if len(p) == 0 || w.full {
		return len(p), nil
	}
	n := len(p)
	if room := w.limit - w.off - int64(len(w.buf)); int64(len(p)) >= room {
		p = append(p[:max(room, 0):max(room, 0)], fmt.Sprintf(TruncatedMarker, w.limit)...)
		w.full = true
	}
	if len(w.buf) == 0 {
		w.since = time.Now()
		if w.timer == nil {
			w.timer = time.AfterFunc(flushAge, w.flushLater)
		} else {
			w.timer.Reset(flushAge)
		}
	}
	w.buf = append(w.buf, p...)
	if len(w.buf) >= chunkSize || time.Since(w.since) >= flushAge {
		if err := w.flush(); err != nil {
			return n, err
		}
	}
	return n, nil
}

// flushLater commits what Write left buffered when no further write came to do it.
func (w *logWriter) flushLater() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return
	}
	if err := w.flush(); err != nil {
		w.s.log.Warn("commit build log", "build", buildName(w.project, w.number), "err", err)
	}
}

// Close commits the buffered output, syncs the log to disk and releases the build for another writer.
// Closing again does nothing.
func (w *logWriter) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return nil
	}
	w.closed = true
	if w.timer != nil {
		w.timer.Stop()
	}
	defer w.s.unregister(w)
	err := w.flush()
	if err == nil {
		err = w.sync()
	}
	return err
}

// sync writes the database to disk.
func (w *logWriter) sync() error {
	if err := w.s.enter(); err != nil {
		return fmt.Errorf("sync log of build %s: %w", buildName(w.project, w.number), err)
	}
	defer w.s.mu.RUnlock()
	if err := w.s.db.Sync(); err != nil {
		return fmt.Errorf("sync log of build %s: %w", buildName(w.project, w.number), err)
	}
	return nil
}

// flush commits buf in chunks of at most chunkSize, as many per transaction as badger takes. The caller
// holds mu. Chunks have keys no one else writes and the transactions read nothing, so they cannot
// conflict.
func (w *logWriter) flush() error {
	if len(w.buf) == 0 {
		return nil
	}
	if err := w.s.enter(); err != nil {
		return fmt.Errorf("write log of build %s: %w", buildName(w.project, w.number), err)
	}
	defer w.s.mu.RUnlock()
	for len(w.buf) > 0 {
		txn := w.s.db.NewTransaction(true)
		staged := 0
		for staged < len(w.buf) {
			chunk := bytes.Clone(w.buf[staged:min(staged+chunkSize, len(w.buf))])
			err := txn.Set(chunkKey(w.project, w.number, w.off+int64(staged)), chunk)
			if errors.Is(err, badger.ErrTxnTooBig) && staged > 0 {
				break
			}
			if err != nil {
				txn.Discard()
				return fmt.Errorf("write log of build %s: %w", buildName(w.project, w.number), err)
			}
			staged += len(chunk)
		}
		if err := txn.Commit(); err != nil {
			return fmt.Errorf("write log of build %s: %w", buildName(w.project, w.number), err)
		}
		w.off += int64(staged)
		w.buf = append(w.buf[:0], w.buf[staged:]...)
	}
	return nil
}

// Log returns a reader of the log of build number of project from byte offset on, up to what has been
// written when Log is called, including output a writer still buffers. An offset at or past the end gives
// an empty reader. It returns ErrNotFound if the build does not exist and ErrInvalid for a negative
// offset. The reader fetches the log a chunk at a time as it is read.
func (s *Store) Log(ctx context.Context, project string, number int, offset int64) (io.ReadCloser, error) {
	if err := checkBuild(project, number); err != nil {
		return nil, fmt.Errorf("read log: %w", err)
	}
	name := buildName(project, number)
	if offset < 0 {
		return nil, fmt.Errorf("read log of build %s: offset %d: %w", name, offset, baleen.ErrInvalid)
	}

	s.writersMu.Lock()
	w := s.writers[name]
	s.writersMu.Unlock()

	var end int64
	var tail []byte
	err := s.view(ctx, func(txn *badger.Txn) error {
		if _, err := txn.Get(buildKey(project, number)); err != nil {
			return notFound("build "+name, err)
		}
		if w != nil {
			return nil
		}
		var err error
		end, err = logEnd(txn, project, number)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("read log: %w", err)
	}
	if w != nil {
		// The writer's committed length and its buffer, taken together, are exactly what has been
		// written; what it commits later is not read from the database past end.
		w.mu.Lock()
		end, tail = w.off, bytes.Clone(w.buf)
		w.mu.Unlock()
	}

	r := &logReader{s: s, project: project, number: number, pos: min(offset, end), end: end}
	if skip := offset - end; skip > 0 {
		tail = tail[min(skip, int64(len(tail))):]
	}
	r.tail = tail
	return r, nil
}

// logReader reads a committed stretch of a build's log, a chunk at a time, then the buffered tail.
type logReader struct {
	s       *Store
	project string
	number  int

	// pos is the offset of the next byte to fetch from the database; end the end of what is read from
	// there.
	pos, end int64
	// cur is the rest of the chunk being read; tail the writer's buffered bytes, read after end.
	cur, tail []byte
	closed    bool
}

// Read reads the log.
func (r *logReader) Read(p []byte) (int, error) {
	if r.closed {
		return 0, fmt.Errorf("read log of build %s: reader is closed", buildName(r.project, r.number))
	}
	if len(p) == 0 {
		return 0, nil
	}
	for len(r.cur) == 0 && r.pos < r.end {
		if err := r.fill(); err != nil {
			return 0, err
		}
	}
	if len(r.cur) > 0 {
		n := copy(p, r.cur)
		r.cur = r.cur[n:]
		return n, nil
	}
	if len(r.tail) > 0 {
		n := copy(p, r.tail)
		r.tail = r.tail[n:]
		return n, nil
	}
	return 0, io.EOF
}

// fill fetches the chunk that holds pos into cur, cut to end.
func (r *logReader) fill() error {
	name := buildName(r.project, r.number)
	err := r.s.view(context.Background(), func(txn *badger.Txn) error {
		start := r.pos
		item, err := txn.Get(chunkKey(r.project, r.number, r.pos))
		var v []byte
		switch {
		case err == nil:
			v, err = item.ValueCopy(nil)
		case errors.Is(err, badger.ErrKeyNotFound):
			// pos falls inside a chunk (only for the first read from an offset): find the last chunk
			// that starts before it.
			start, v, err = chunkBefore(txn, r.project, r.number, r.pos)
		}
		if err != nil {
			return err
		}
		skip := r.pos - start
		if skip >= int64(len(v)) {
			return fmt.Errorf("no chunk holds offset %d", r.pos)
		}
		v = v[skip:]
		if rest := r.end - r.pos; int64(len(v)) > rest {
			v = v[:rest]
		}
		r.cur = v
		r.pos += int64(len(v))
		return nil
	})
	if err != nil {
		return fmt.Errorf("read log of build %s: %w", name, err)
	}
	return nil
}

// chunkBefore returns the start and a copy of the last chunk of a build's log that starts at or before
// offset.
func chunkBefore(txn *badger.Txn, project string, number int, offset int64) (int64, []byte, error) {
	prefix := logPrefix(project, number)
	it := txn.NewIterator(badger.IteratorOptions{Prefix: prefix, Reverse: true})
	defer it.Close()
	it.Seek(chunkKey(project, number, offset))
	if !it.Valid() {
		return 0, nil, fmt.Errorf("no chunk holds offset %d", offset)
	}
	start, err := chunkOffset(it.Item().Key(), prefix)
	if err != nil {
		return 0, nil, err
	}
	v, err := it.Item().ValueCopy(nil)
	return start, v, err
}

// Close ends reading; it does not affect the log.
func (r *logReader) Close() error {
	r.closed = true
	return nil
}
