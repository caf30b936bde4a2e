package gitd

import (
	"bytes"
	"compress/zlib"
	"crypto/sha1"
	"encoding/binary"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/baleen-ci/baleen"
)

// objectHeader is a pack entry's type-and-size header.
func objectHeader(typ byte, size uint64) []byte {
	b := []byte{typ<<4 | byte(size&15)}
	size >>= 4
	for size > 0 {
		b[len(b)-1] |= 0x80
		b = append(b, byte(size&0x7f))
		size >>= 7
	}
	return b
}

func deflate(data []byte) []byte {
	var buf bytes.Buffer
	zw := zlib.NewWriter(&buf)
	zw.Write(data)
	zw.Close()
	return buf.Bytes()
}

// onePack is a pack of one entry with its checksum.
func onePack(entry []byte) []byte {
	var p bytes.Buffer
	p.WriteString("PACK")
	binary.Write(&p, binary.BigEndian, uint32(2))
	binary.Write(&p, binary.BigEndian, uint32(1))
	p.Write(entry)
	sum := sha1.Sum(p.Bytes())
	p.Write(sum[:])
	return p.Bytes()
}

// TestPackLimits stops a small pack from making the indexer hold gigabytes: an object that declares a size
// over the limit, and a delta that would rebuild one, are refused before they are stored.
func TestPackLimits(t *testing.T) {
	delta := binary.AppendUvarint(nil, 10)
	delta = binary.AppendUvarint(delta, MaxObjectBytes+1)
	tests := []struct {
		name  string
		entry []byte
		want  string
	}{
		{"blob declared too large", append(objectHeader(3, MaxObjectBytes+1), deflate([]byte("small"))...), "over the limit"},
		{"delta rebuilding too much", append(append(objectHeader(7, uint64(len(delta))), make([]byte, 20)...), deflate(delta)...), "delta rebuilds an object"},
		{"stream longer than declared", append(objectHeader(3, 3), deflate([]byte("much longer than three"))...), "header says 3"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := copyPack(io.Discard, bytes.NewReader(onePack(tt.entry)))
			if err == nil || !errors.Is(err, baleen.ErrInvalid) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got %v, want an ErrInvalid containing %q", err, tt.want)
			}
		})
	}
	ok := append(objectHeader(3, 5), deflate([]byte("hello"))...)
	if n, err := copyPack(io.Discard, bytes.NewReader(onePack(ok))); err != nil || n != 1 {
		t.Errorf("a valid one-object pack: got %d, %v", n, err)
	}
}
