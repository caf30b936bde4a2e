package store

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/baleen-ci/baleen"
	"github.com/dgraph-io/badger/v4"
)

var _ baleen.TestHistory = (*Store)(nil)

// The test history is kept compactly: each test case name of a project gets a number once (tn/ maps the
// name to it, ti/ back), and each build's run is one value under tr/ holding, per case, that number, the
// outcome and the duration in milliseconds as varints: a few bytes per case and build.
func testNameKey(project, name string) []byte { return []byte("tn/" + project + "/" + name) }

func testIDKey(project string, id uint64) []byte { return fmt.Appendf(nil, "ti/%s/%016x", project, id) }

func lastTestIDKey(project string) []byte { return []byte("tc/" + project) }

func testRunKey(project string, number int) []byte {
	return fmt.Appendf(nil, "tr/%s/%010d", project, number)
}

func testRunPrefix(project string) []byte { return []byte("tr/" + project + "/") }

// testRunFormat is the first byte of every encoded run.
const testRunFormat = 1

// namesPerTxn bounds the new test names one transaction numbers, to stay under badger's transaction size.
const namesPerTxn = 2000

// RecordTests keeps the test cases of one build under its project, replacing what was kept for that build.
func (s *Store) RecordTests(ctx context.Context, run baleen.TestRun) error {
	if err := checkBuild(run.Project, run.Number); err != nil {
		return fmt.Errorf("record tests: %w: %w", err, baleen.ErrInvalid)
	}
	if run.Created.IsZero() {
		run.Created = time.Now().UTC()
	}
	ids, err := s.testIDs(ctx, run.Project, run.Cases)
	if err != nil {
		return fmt.Errorf("record tests of %s: %w", buildName(run.Project, run.Number), err)
	}
	val := encodeRun(run, ids)
	err = s.update(ctx, func(txn *badger.Txn) error { return txn.Set(testRunKey(run.Project, run.Number), val) })
	if err != nil {
		return fmt.Errorf("record tests of %s: %w", buildName(run.Project, run.Number), err)
	}
	return nil
}

// testIDs returns the number of each case's name, numbering the names met for the first time.
func (s *Store) testIDs(ctx context.Context, project string, cases []baleen.TestCase) ([]uint64, error) {
	ids := make([]uint64, len(cases))
	known := map[string]uint64{}
	var missing []string
	err := s.view(ctx, func(txn *badger.Txn) error {
		for _, c := range cases {
			if _, ok := known[c.Name]; ok {
				continue
			}
			id, err := getID(txn, testNameKey(project, c.Name))
			switch {
			case errors.Is(err, badger.ErrKeyNotFound):
				known[c.Name] = 0
				missing = append(missing, c.Name)
			case err != nil:
				return err
			default:
				known[c.Name] = id
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	for batch := range slices.Chunk(missing, namesPerTxn) {
		if err := s.numberNames(ctx, project, batch, known); err != nil {
			return nil, err
		}
	}
	for i, c := range cases {
		ids[i] = known[c.Name]
	}
	return ids, nil
}

// numberNames gives each of names a number, unless another build numbered it meanwhile, and notes it in
// known.
func (s *Store) numberNames(ctx context.Context, project string, names []string, known map[string]uint64) error {
	got := map[string]uint64{}
	err := s.update(ctx, func(txn *badger.Txn) error {
		clear(got)
		last, err := getID(txn, lastTestIDKey(project))
		if err != nil && !errors.Is(err, badger.ErrKeyNotFound) {
			return err
		}
		for _, name := range names {
			id, err := getID(txn, testNameKey(project, name))
			if err == nil {
				got[name] = id
				continue
			}
			if !errors.Is(err, badger.ErrKeyNotFound) {
				return err
			}
			last++
			got[name] = last
			if err := txn.Set(testNameKey(project, name), binary.AppendUvarint(nil, last)); err != nil {
				return err
			}
			if err := txn.Set(testIDKey(project, last), []byte(name)); err != nil {
				return err
			}
		}
		return txn.Set(lastTestIDKey(project), binary.AppendUvarint(nil, last))
	})
	for name, id := range got {
		known[name] = id
	}
	return err
}

// getID reads a varint value.
func getID(txn *badger.Txn, key []byte) (uint64, error) {
	item, err := txn.Get(key)
	if err != nil {
		return 0, err
	}
	var id uint64
	err = item.Value(func(v []byte) error {
		var n int
		if id, n = binary.Uvarint(v); n <= 0 {
			return fmt.Errorf("%s: bad number", key)
		}
		return nil
	})
	return id, err
}

// TestRuns returns the runs kept for a project's branch (all branches when branch is ""), newest first, at
// most limit of them when limit is above 0.
func (s *Store) TestRuns(ctx context.Context, project, branch string, limit int) ([]baleen.TestRun, error) {
	if err := baleen.ValidateProjectName(project); err != nil {
		return nil, fmt.Errorf("test runs: %w", err)
	}
	if limit < 0 {
		return nil, fmt.Errorf("test runs: limit %d: %w", limit, baleen.ErrInvalid)
	}
	var runs []baleen.TestRun
	err := s.view(ctx, func(txn *badger.Txn) error {
		prefix := testRunPrefix(project)
		it := txn.NewIterator(badger.IteratorOptions{Prefix: prefix, Reverse: true})
		defer it.Close()
		names := map[uint64]string{}
		for it.Seek(append(slices.Clone(prefix), 0xff)); it.Valid() && (limit == 0 || len(runs) < limit); it.Next() {
			if err := ctx.Err(); err != nil {
				return err
			}
			var run baleen.TestRun
			err := it.Item().Value(func(v []byte) (err error) {
				run, err = decodeRun(v, branch, func(id uint64) (string, error) { return testName(txn, project, id, names) })
				return err
			})
			if errors.Is(err, errOtherBranch) {
				continue
			}
			if err != nil {
				return fmt.Errorf("%s: %w", it.Item().Key(), err)
			}
			run.Project = project
			runs = append(runs, run)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("test runs of %s: %w", project, err)
	}
	return runs, nil
}

// testName resolves a case number to its name, through the cache names.
func testName(txn *badger.Txn, project string, id uint64, names map[uint64]string) (string, error) {
	if n, ok := names[id]; ok {
		return n, nil
	}
	item, err := txn.Get(testIDKey(project, id))
	if err != nil {
		return "", fmt.Errorf("test case %d: %w", id, err)
	}
	v, err := item.ValueCopy(nil)
	if err != nil {
		return "", err
	}
	names[id] = string(v)
	return string(v), nil
}

// DeleteTests forgets the run kept for one build. The case names stay numbered: other builds name them.
func (s *Store) DeleteTests(ctx context.Context, project string, number int) error {
	if err := checkBuild(project, number); err != nil {
		return fmt.Errorf("delete tests: %w", err)
	}
	err := s.update(ctx, func(txn *badger.Txn) error { return txn.Delete(testRunKey(project, number)) })
	if err != nil {
		return fmt.Errorf("delete tests of %s: %w", buildName(project, number), err)
	}
	return nil
}

// errOtherBranch is a run of a branch that was not asked for.
var errOtherBranch = errors.New("other branch")

// encodeRun writes a run: the format byte, the build number, branch, commit and time, then per case its
// name's number, outcome and duration in milliseconds.
func encodeRun(run baleen.TestRun, ids []uint64) []byte {
	b := []byte{testRunFormat}
	b = binary.AppendUvarint(b, uint64(run.Number))
	b = appendString(b, run.Branch)
	b = appendString(b, run.Commit)
	b = binary.AppendVarint(b, run.Created.UnixMilli())
	b = binary.AppendUvarint(b, uint64(len(run.Cases)))
	for i, c := range run.Cases {
		b = binary.AppendUvarint(b, ids[i])
		b = append(b, byte(c.Outcome))
		b = binary.AppendUvarint(b, uint64(max(c.Duration.Milliseconds(), 0)))
	}
	return b
}

func appendString(b []byte, s string) []byte {
	return append(binary.AppendUvarint(b, uint64(len(s))), s...)
}

// decodeRun reads a run written by encodeRun, naming its cases with name. It stops with errOtherBranch after
// the header when branch is set and the run is of another.
func decodeRun(v []byte, branch string, name func(uint64) (string, error)) (baleen.TestRun, error) {
	d := runDecoder{b: v}
	if d.byte() != testRunFormat {
		return baleen.TestRun{}, errors.New("unknown test run format")
	}
	run := baleen.TestRun{Number: int(d.uvarint()), Branch: d.string(), Commit: d.string()}
	run.Created = time.UnixMilli(d.varint()).UTC()
	if d.err != nil {
		return baleen.TestRun{}, d.err
	}
	if branch != "" && run.Branch != branch {
		return baleen.TestRun{}, errOtherBranch
	}
	n := d.uvarint()
	if n > uint64(len(v)) {
		return baleen.TestRun{}, errors.New("corrupt test run")
	}
	run.Cases = make([]baleen.TestCase, 0, n)
	for range n {
		id, outcome, ms := d.uvarint(), d.byte(), d.uvarint()
		if d.err != nil {
			return baleen.TestRun{}, d.err
		}
		nm, err := name(id)
		if err != nil {
			return baleen.TestRun{}, err
		}
		run.Cases = append(run.Cases, baleen.TestCase{Name: nm, Outcome: baleen.TestOutcome(outcome), Duration: time.Duration(ms) * time.Millisecond})
	}
	return run, d.err
}

// runDecoder reads the parts of an encoded run, remembering the first error.
type runDecoder struct {
	b   []byte
	err error
}

func (d *runDecoder) fail() { d.err, d.b = errors.New("corrupt test run"), nil }

func (d *runDecoder) byte() byte {
	if len(d.b) == 0 {
		d.fail()
		return 0
	}
	c := d.b[0]
	d.b = d.b[1:]
	return c
}

func (d *runDecoder) uvarint() uint64 {
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.fail()
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *runDecoder) varint() int64 {
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.fail()
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *runDecoder) string() string {
	n := d.uvarint()
	if n > uint64(len(d.b)) {
		d.fail()
		return ""
	}
	s := string(d.b[:n])
	d.b = d.b[n:]
	return s
}
