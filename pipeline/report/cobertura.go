package report

import (
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
)

// RateScale is the number of lines a Cobertura report that gives only a line-rate counts as, so that it can
// be merged with reports that give counts: line-rate 0.8125 becomes 8125 covered of 10000 valid lines.
const RateScale = 10000

// Cobertura parses one Cobertura XML document and returns its covered and valid line counts.
//
// The counts come from the best source the document has:
//
//  1. the <line number=".." hits=".."> elements, counted once per unique (class filename, line number)
//     — tools such as gocover-cobertura list a line both under its <method> and under its <class>, and
//     Java inner classes share their outer class's file — with a line covered when any of its entries has
//     hits > 0;
//  2. else the root's lines-covered and lines-valid attributes;
//  3. else the root's line-rate, scaled to RateScale lines.
//
// A document that is not well-formed XML, whose root is not <coverage>, that has none of the three, or whose
// numbers do not add up (a negative count, more covered than valid lines, a rate outside 0..1) is an error
// matching baleen.ErrInvalid; an error reading rd comes back as it is.
func Cobertura(rd io.Reader) (covered, valid int, err error) {
	d, err := newDecoder(rd)
	if err != nil {
		return 0, 0, err
	}
	type key struct{ file, line string }
	var (
		lines = map[key]bool{} // whether the line is covered
		file  string           // the filename of the enclosing <class>
		root  *xml.StartElement
	)
	for {
		tok, err := d.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return 0, 0, d.fail(err)
		}
		switch el := tok.(type) {
		case xml.StartElement:
			if root == nil {
				el := el.Copy()
				root = &el
				if el.Name.Local != "coverage" {
					return 0, 0, invalid(fmt.Errorf("root element is <%s>, want <coverage>", el.Name.Local))
				}
			}
			switch el.Name.Local {
			case "class":
				f, ok := attr(el, "filename")
				if !ok {
					f, _ = attr(el, "name")
				}
				file = f
			case "line":
				number, ok := attr(el, "number")
				hits, err := parseHits(el)
				if !ok {
					err = errors.New("no number attribute")
				}
				if err != nil {
					return 0, 0, invalid(fmt.Errorf("line %q of %q: %w", number, file, err))
				}
				k := key{file, number}
				lines[k] = lines[k] || hits
			}
		case xml.EndElement:
			if el.Name.Local == "class" {
				file = ""
			}
		}
	}
	if root == nil {
		return 0, 0, invalid(errors.New("no root element"))
	}
	if len(lines) > 0 {
		for _, hit := range lines {
			if hit {
				covered++
			}
		}
		return covered, len(lines), nil
	}
	return rootCounts(*root)
}

// parseHits reports whether a <line>'s hits attribute is above zero. Most tools write an integer; a few
// write a decimal.
func parseHits(el xml.StartElement) (bool, error) {
	s, ok := attr(el, "hits")
	if !ok {
		return false, errors.New("no hits attribute")
	}
	s = strings.TrimSpace(s)
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		return n > 0, nil
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(f) {
		return false, fmt.Errorf("hits %q is not a number", s)
	}
	return f > 0, nil
}

// rootCounts reads the counts from the <coverage> element's attributes when the document lists no lines.
func rootCounts(root xml.StartElement) (covered, valid int, err error) {
	cs, okc := attr(root, "lines-covered")
	vs, okv := attr(root, "lines-valid")
	if okc && okv {
		c, errc := strconv.Atoi(strings.TrimSpace(cs))
		v, errv := strconv.Atoi(strings.TrimSpace(vs))
		switch {
		case errc != nil || errv != nil:
			return 0, 0, invalid(fmt.Errorf("lines-covered %q, lines-valid %q: not whole numbers", cs, vs))
		case c < 0 || c > v:
			return 0, 0, invalid(fmt.Errorf("lines-covered %d, lines-valid %d: want 0 <= covered <= valid", c, v))
		}
		return c, v, nil
	}
	if rs, ok := attr(root, "line-rate"); ok {
		rate, err := strconv.ParseFloat(strings.TrimSpace(rs), 64)
		if err != nil || !(rate >= 0 && rate <= 1) {
			return 0, 0, invalid(fmt.Errorf("line-rate %q: want a number from 0 to 1", rs))
		}
		return int(math.Round(rate * RateScale)), RateScale, nil
	}
	return 0, 0, invalid(errors.New("no <line> elements, no lines-covered and lines-valid, no line-rate"))
}
