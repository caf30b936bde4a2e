package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/baleen-ci/baleen"
	"github.com/dgraph-io/badger/v4"
)

// maxAttempts bounds how often a transaction is retried after badger reports a conflict (another
// transaction committed a key this one read).
const maxAttempts = 16

// recordVersion is the version written in the envelope of every JSON record.
const recordVersion = 1

// Store is Baleen's record store: projects, builds and build logs in one badger database. Every method is
// safe for concurrent use.
type Store struct {
	db  *badger.DB
	log *slog.Logger

	// mu guards closed: every operation holds it for reading so that Close never pulls the database from
	// under a running transaction (badger's iterators panic on a closed database).
	mu     sync.RWMutex
	closed bool

	// createMu serialises number allocation in CreateBuild. Builds are created a few per push, so this
	// costs nothing and spares the optimistic transactions a storm of conflicts.
	createMu sync.Mutex

	// writersMu guards writers, the open LogWriters by build key.
	writersMu sync.Mutex
	writers   map[string]*logWriter
}

var (
	_ baleen.ProjectStore = (*Store)(nil)
	_ baleen.BuildStore   = (*Store)(nil)
)

// Open opens the store in dir (e.g. DATA/db), creating the directory and the database if needed. Badger's
// own logging goes to logger, routine messages at debug level; a nil logger discards it.
func Open(dir string, logger *slog.Logger) (*Store, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("open store: %w", err)
	}
	db, err := badger.Open(options(dir, logger))
	if err != nil {
		return nil, fmt.Errorf("open store in %s: %w", dir, err)
	}
	return &Store{db: db, log: logger, writers: make(map[string]*logWriter)}, nil
}

// options are badger's settings for a small server. Badger's defaults suit a database of many gigabytes
// (5 memtables of 64 MiB, a 256 MiB block cache, 1 GiB value log files); Baleen's records are a few KiB per
// build plus the logs, so the footprint is cut to tens of MiB.
func options(dir string, logger *slog.Logger) badger.Options {
	return badger.DefaultOptions(dir).
		WithLogger(badgerLogger{logger}).
		// Records are synced explicitly after each commit and logs on close (see doc.go), so badger need
		// not fsync every transaction.
		WithSyncWrites(false).
		// Nothing reads old versions; keeping one lets compaction drop overwritten build records.
		WithNumVersionsToKeep(1).
		// Two 8 MiB memtables instead of five of 64 MiB: at most 16 MiB of writes held in memory.
		WithMemTableSize(8 << 20).
		WithNumMemtables(2).
		// Values up to 64 KiB (every record and every 32 KiB log chunk) stay in the LSM tree, where they
		// are compressed and compacted, so the value log needs no garbage collection. The threshold must
		// stay below 15% of the memtable size, which badger checks at Open.
		WithValueThreshold(64 << 10).
		// 64 MiB value log files instead of 1 GiB: smaller mmaps on a small machine.
		WithValueLogFileSize(64 << 20).
		WithBlockCacheSize(8 << 20).
		WithNumCompactors(2).
		// Metrics go to expvar, process-wide state that the server does not export.
		WithMetricsEnabled(false)
}

// Close flushes open log writers and closes the database. It is safe to call more than once; later calls
// return nil. Log writers should be closed before; one still open fails its later writes.
func (s *Store) Close() error {
	// Flush the writers before taking mu: a flush takes mu for reading.
	s.writersMu.Lock()
	open := make([]*logWriter, 0, len(s.writers))
	for _, w := range s.writers {
		open = append(open, w)
	}
	s.writersMu.Unlock()
	var errs []error
	for _, w := range open {
		if err := w.Close(); err != nil {
			errs = append(errs, err)
		}
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	if err := s.db.Close(); err != nil {
		errs = append(errs, fmt.Errorf("close store: %w", err))
	}
	return errors.Join(errs...)
}

// Backup writes a full backup of the database to w in badger's backup format; badger's Load (or the
// badger CLI's restore) reads it back into an empty database.
func (s *Store) Backup(w io.Writer) error {
	if err := s.enter(); err != nil {
		return err
	}
	defer s.mu.RUnlock()
	if _, err := s.db.Backup(w, 0); err != nil {
		return fmt.Errorf("backup store: %w", err)
	}
	return nil
}

// enter takes mu for reading and fails if the store is closed. The caller releases mu with RUnlock.
func (s *Store) enter() error {
	s.mu.RLock()
	if s.closed {
		s.mu.RUnlock()
		return fmt.Errorf("store is closed: %w", baleen.ErrUnavailable)
	}
	return nil
}

// view runs fn in a read-only transaction.
func (s *Store) view(ctx context.Context, fn func(txn *badger.Txn) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := s.enter(); err != nil {
		return err
	}
	defer s.mu.RUnlock()
	return s.db.View(fn)
}

// update runs fn in a read-write transaction, again from the start when it conflicts with another, up to
// maxAttempts times, and syncs the database to disk after it commits. fn must be safe to run again.
func (s *Store) update(ctx context.Context, fn func(txn *badger.Txn) error) error {
	if err := s.enter(); err != nil {
		return err
	}
	defer s.mu.RUnlock()
	var err error
	for range maxAttempts {
		if err := ctx.Err(); err != nil {
			return err
		}
		err = s.db.Update(fn)
		if errors.Is(err, badger.ErrConflict) {
			continue
		}
		if err != nil {
			return err
		}
		if err := s.db.Sync(); err != nil {
			return fmt.Errorf("sync: %w", err)
		}
		return nil
	}
	return fmt.Errorf("gave up after %d conflicting attempts: %w: %w", maxAttempts, baleen.ErrConflict, err)
}

// notFound translates badger's ErrKeyNotFound into baleen.ErrNotFound for what ("build api#7"), keeping
// the cause; other errors get what as context.
func notFound(what string, err error) error {
	if errors.Is(err, badger.ErrKeyNotFound) {
		return fmt.Errorf("%s: %w: %w", what, baleen.ErrNotFound, err)
	}
	return fmt.Errorf("%s: %w", what, err)
}

// envelope is the versioned wrapper of every JSON record.
type envelope[T any] struct {
	V    int `json:"v"`
	Data T   `json:"data"`
}

// encode marshals v in a versioned envelope.
func encode[T any](v T) ([]byte, error) {
	return json.Marshal(envelope[T]{V: recordVersion, Data: v})
}

// decode unmarshals a versioned envelope into v.
func decode[T any](b []byte, v *T) error {
	var e envelope[T]
	if err := json.Unmarshal(b, &e); err != nil {
		return fmt.Errorf("decode record: %w", err)
	}
	if e.V != recordVersion {
		return fmt.Errorf("decode record: version %d, this Baleen reads version %d", e.V, recordVersion)
	}
	*v = e.Data
	return nil
}

// get reads the record at key into v.
func get[T any](txn *badger.Txn, key []byte, v *T) error {
	item, err := txn.Get(key)
	if err != nil {
		return err
	}
	return item.Value(func(b []byte) error { return decode(b, v) })
}

// all reads every record under prefix, in key order. A record that does not decode is an error naming its
// key.
func all[T any](ctx context.Context, txn *badger.Txn, prefix []byte) ([]T, error) {
	it := txn.NewIterator(badger.IteratorOptions{Prefix: prefix, PrefetchValues: true, PrefetchSize: 100})
	defer it.Close()
	var out []T
	for it.Rewind(); it.Valid(); it.Next() {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		var v T
		if err := it.Item().Value(func(b []byte) error { return decode(b, &v) }); err != nil {
			return nil, fmt.Errorf("%s: %w", it.Item().Key(), err)
		}
		out = append(out, v)
	}
	return out, nil
}

// set writes v as a record at key.
func set[T any](txn *badger.Txn, key []byte, v T) error {
	b, err := encode(v)
	if err != nil {
		return err
	}
	return txn.Set(key, b)
}

// setExpiring writes v as a record at key with a badger TTL at expires, so that it goes by itself.
func setExpiring[T any](txn *badger.Txn, key []byte, v T, expires time.Time) error {
	ttl := time.Until(expires)
	if ttl <= 0 {
		return fmt.Errorf("expires in the past: %w", baleen.ErrInvalid)
	}
	b, err := encode(v)
	if err != nil {
		return err
	}
	return txn.SetEntry(badger.NewEntry(key, b).WithTTL(ttl))
}

// badgerLogger sends badger's log lines to slog. Informational and debug chatter goes out at debug level;
// warnings and errors keep their level, so a failing compaction is not hidden from the operator.
type badgerLogger struct{ l *slog.Logger }

func (b badgerLogger) log(level slog.Level, format string, args ...any) {
	ctx := context.Background()
	if !b.l.Enabled(ctx, level) {
		return
	}
	b.l.Log(ctx, level, "badger: "+strings.TrimSpace(fmt.Sprintf(format, args...)))
}

func (b badgerLogger) Errorf(format string, args ...any)   { b.log(slog.LevelError, format, args...) }
func (b badgerLogger) Warningf(format string, args ...any) { b.log(slog.LevelWarn, format, args...) }
func (b badgerLogger) Infof(format string, args ...any)    { b.log(slog.LevelDebug, format, args...) }
func (b badgerLogger) Debugf(format string, args ...any)   { b.log(slog.LevelDebug, format, args...) }
