package report

import (
	"bufio"
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"

	"github.com/baleen-ci/baleen"
)

// decoder is a strict XML decoder that tells the errors of the document from the errors of its reader.
type decoder struct {
	*xml.Decoder
	src *errReader
}

// newDecoder returns a strict XML decoder for rd that refuses UTF-16 and reads ISO-8859-1 documents through
// a converter. A UTF-8 byte-order mark needs no handling: encoding/xml returns it as character data before
// the root element, which both parsers pass over.
func newDecoder(rd io.Reader) (*decoder, error) {
	src := &errReader{r: rd}
	br := bufio.NewReader(src)
	// A short document, or a read error, leaves fewer bytes; the decoder meets the same error on its first
	// read, so it is not reported twice here.
	head, _ := br.Peek(2)
	if bytes.Equal(head, []byte{0xFE, 0xFF}) || bytes.Equal(head, []byte{0xFF, 0xFE}) {
		return nil, invalid(errors.New("UTF-16 is not supported; write the report as UTF-8"))
	}
	d := xml.NewDecoder(br)
	d.Strict = true
	d.CharsetReader = charsetReader
	return &decoder{d, src}, nil
}

// fail returns err, from the decoder, as it is when the reader caused it, and else marked as
// baleen.ErrInvalid: encoding/xml reports most document problems as *xml.SyntaxError, but a few (an XML
// version other than 1.0, a refused charset) as plain errors.
func (d *decoder) fail(err error) error {
	if d.src.err != nil && errors.Is(err, d.src.err) {
		return err
	}
	return invalid(err)
}

// errReader remembers the last error other than io.EOF its reader returned.
type errReader struct {
	r   io.Reader
	err error
}

func (e *errReader) Read(p []byte) (int, error) {
	n, err := e.r.Read(p)
	if err != nil && !errors.Is(err, io.EOF) {
		e.err = err
	}
	return n, err
}

// charsetReader converts the encodings a report may declare besides UTF-8: ISO-8859-1 (and US-ASCII, its
// subset). Every other encoding is refused.
func charsetReader(label string, in io.Reader) (io.Reader, error) {
	switch strings.ToLower(strings.TrimSpace(label)) {
	case "iso-8859-1", "iso8859-1", "iso_8859-1", "latin1", "latin-1", "l1", "us-ascii", "ascii":
		return &latin1Reader{r: in}, nil
	}
	return nil, invalid(fmt.Errorf("encoding %q is not supported; use UTF-8 or ISO-8859-1", label))
}

// latin1Reader converts ISO-8859-1 to UTF-8: every byte is the code point of the same value.
type latin1Reader struct {
	r   io.Reader
	in  [4096]byte
	buf []byte // backing store of out
	out []byte // converted bytes not yet returned
	err error  // the error of the last read from r, returned once out is drained
}

func (l *latin1Reader) Read(p []byte) (int, error) {
	if len(l.out) == 0 {
		if l.err != nil {
			return 0, l.err
		}
		n, err := l.r.Read(l.in[:])
		l.out = l.buf[:0]
		for _, c := range l.in[:n] {
			l.out = utf8.AppendRune(l.out, rune(c))
		}
		l.buf = l.out[:0]
		l.err = err
	}
	n := copy(p, l.out)
	l.out = l.out[n:]
	if n == 0 {
		return 0, l.err
	}
	return n, nil
}

// invalidError is a report that is not what it should be. It reads as its cause and matches both the cause
// and baleen.ErrInvalid.
type invalidError struct{ err error }

func invalid(err error) error { return invalidError{err} }

func (e invalidError) Error() string   { return e.err.Error() }
func (e invalidError) Unwrap() []error { return []error{e.err, baleen.ErrInvalid} }

// attr returns the value of the attribute local of el, and whether it is there.
func attr(el xml.StartElement, local string) (string, bool) {
	for _, a := range el.Attr {
		if a.Name.Local == local {
			return a.Value, true
		}
	}
	return "", false
}

// cut returns s cut to at most n bytes on a rune boundary, marked when it was cut.
func cut(s string, n int) string {
	if len(s) <= n {
		return s
	}
	i := n
	for i > 0 && !utf8.RuneStart(s[i]) {
		i--
	}
	return s[:i] + "\n… (cut)"
}
