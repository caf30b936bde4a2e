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
// be merged with reports that give counts: line-rate 0.8125 becomes 8125 covered of 10000 valid lines. A
// branch-rate alone is scaled the same way.
const RateScale = 10000

// Counts is what one Cobertura report says was covered: lines, and branches when it counts them.
type Counts struct {
	LinesCovered, LinesValid       int
	BranchesCovered, BranchesValid int
}

// Cobertura parses one Cobertura XML document and returns the figures its tool printed.
//
// Lines come from the best source the document has:
//
//  1. the root's lines-covered and lines-valid attributes — the tool's own figure (gcovr lists a line once
//     per function instance, and only the root says how the tool merged them);
//  2. else each <class>'s own <lines>, counted per class — a line number listed twice in one class counts
//     once, covered when any entry has hits > 0 — while the <line> elements under <methods> are left out:
//     gocover-cobertura repeats the class's lines there, and istanbul puts each function's declaration
//     line there, which is no statement;
//  3. else the root's line-rate, scaled to RateScale lines.
//
// Branches likewise: the root's branches-covered and branches-valid; else the condition-coverage="50%
// (1/2)" of the classes' own lines; else a branch-rate above 0 (tools that measure no branches write 0),
// scaled to RateScale. BranchesValid is 0 when the report counts no branches.
//
// The document is read as a stream of raw tokens (end tags are matched here): memory is bounded by its
// largest class, not by its size. A document
// that is not well-formed XML, whose root is not <coverage>, that has none of the three line sources, or
// whose numbers do not add up (a negative count, more covered than valid, a rate outside 0..1) is an error
// matching baleen.ErrInvalid; an error reading rd comes back as it is.
func Cobertura(rd io.Reader) (Counts, error) {
	d, err := newDecoder(rd)
	if err != nil {
		return Counts{}, err
	}
	var (
		root   *xml.StartElement
		depth  int      // of the element being read, the root at 1
		class  = -1     // depth of the enclosing <class>, -1 outside
		inList bool     // inside the enclosing class's own <lines>
		lines  classSum // the enclosing class's lines
		sum    Counts   // the classes' lines and branches so far
		file   string   // the enclosing class's filename, for messages
		listed bool     // whether a class listed a line
	)
	var open []xml.Name // the enclosing elements: RawToken leaves matching end tags to its caller
	for {
		tok, err := d.RawToken()
		if errors.Is(err, io.EOF) {
			if len(open) > 0 {
				return Counts{}, invalid(fmt.Errorf("unexpected EOF: <%s> is not closed", open[len(open)-1].Local))
			}
			break
		}
		if err != nil {
			return Counts{}, d.fail(err)
		}
		switch el := tok.(type) {
		case xml.StartElement:
			if root != nil && len(open) == 0 {
				return Counts{}, invalid(fmt.Errorf("a second root element <%s>", el.Name.Local))
			}
			open = append(open, el.Name)
			depth++
			if root == nil {
				el := el.Copy()
				root = &el
				if el.Name.Local != "coverage" {
					return Counts{}, invalid(fmt.Errorf("root element is <%s>, want <coverage>", el.Name.Local))
				}
			}
			switch {
			case el.Name.Local == "class" && class < 0:
				class, lines = depth, classSum{}
				if f, ok := attr(el, "filename"); ok {
					file = f
				} else {
					file, _ = attr(el, "name")
				}
			case el.Name.Local == "lines" && class >= 0 && depth == class+1:
				inList = true
			case el.Name.Local == "line" && inList && depth == class+2:
				if err := lines.add(el); err != nil {
					return Counts{}, invalid(fmt.Errorf("class %q: %w", file, err))
				}
				listed = true
			}
		case xml.EndElement:
			if n := len(open); n == 0 || open[n-1] != el.Name {
				return Counts{}, invalid(fmt.Errorf("unexpected end element </%s>", el.Name.Local))
			}
			open = open[:len(open)-1]
			switch {
			case depth == class:
				sum.add(lines.counts())
				class, file = -1, ""
			case class >= 0 && depth == class+1 && el.Name.Local == "lines":
				inList = false
			}
			depth--
		}
	}
	if root == nil {
		return Counts{}, invalid(errors.New("no root element"))
	}
	return fromRoot(*root, sum, listed)
}

// classSum counts the lines of one class.
type classSum struct {
	// lines says, by line number, whether the line is covered and its branches.
	lines map[string]lineInfo
}

type lineInfo struct {
	hit                bool
	covered, branches  int
	hasConditionCounts bool
}

// add counts one <line> of the class's own <lines>.
func (c *classSum) add(el xml.StartElement) error {
	number, ok := attr(el, "number")
	if !ok {
		return errors.New("a line with no number attribute")
	}
	hits, err := parseHits(el)
	if err != nil {
		return fmt.Errorf("line %q: %w", number, err)
	}
	if c.lines == nil {
		c.lines = map[string]lineInfo{}
	}
	li := c.lines[number]
	li.hit = li.hit || hits
	if cov, n, ok := conditions(el); ok && !li.hasConditionCounts {
		li.covered, li.branches, li.hasConditionCounts = cov, n, true
	}
	c.lines[number] = li
	return nil
}

// counts sums the class's lines.
func (c *classSum) counts() Counts {
	var n Counts
	for _, li := range c.lines {
		n.LinesValid++
		if li.hit {
			n.LinesCovered++
		}
		n.BranchesCovered += li.covered
		n.BranchesValid += li.branches
	}
	return n
}

func (c *Counts) add(o Counts) {
	c.LinesCovered += o.LinesCovered
	c.LinesValid += o.LinesValid
	c.BranchesCovered += o.BranchesCovered
	c.BranchesValid += o.BranchesValid
}

// conditions reads a branch line's condition-coverage="50% (1/2)"; ok is false when there is none or it
// does not parse.
func conditions(el xml.StartElement) (covered, valid int, ok bool) {
	s, found := attr(el, "condition-coverage")
	if !found {
		return 0, 0, false
	}
	_, frac, found := strings.Cut(s, "(")
	frac, _, _ = strings.Cut(frac, ")")
	cs, vs, found2 := strings.Cut(frac, "/")
	if !found || !found2 {
		return 0, 0, false
	}
	c, errc := strconv.Atoi(strings.TrimSpace(cs))
	v, errv := strconv.Atoi(strings.TrimSpace(vs))
	if errc != nil || errv != nil || c < 0 || c > v {
		return 0, 0, false
	}
	return c, v, true
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

// fromRoot picks the figures: the root's counts first, then the classes' (when any listed a line), then
// the root's rates.
func fromRoot(root xml.StartElement, classes Counts, listed bool) (Counts, error) {
	var out Counts
	c, v, ok, err := pair(root, "lines-covered", "lines-valid")
	switch {
	case err != nil:
		return Counts{}, err
	case ok:
		out.LinesCovered, out.LinesValid = c, v
	case listed:
		out.LinesCovered, out.LinesValid = classes.LinesCovered, classes.LinesValid
	default:
		c, ok, err := rate(root, "line-rate")
		if err != nil {
			return Counts{}, err
		}
		if !ok {
			return Counts{}, invalid(errors.New("no lines-covered and lines-valid, no <line> elements in a class's <lines>, no line-rate"))
		}
		out.LinesCovered, out.LinesValid = c, RateScale
	}
	c, v, ok, err = pair(root, "branches-covered", "branches-valid")
	switch {
	case err != nil:
		return Counts{}, err
	case ok:
		out.BranchesCovered, out.BranchesValid = c, v
	case classes.BranchesValid > 0:
		out.BranchesCovered, out.BranchesValid = classes.BranchesCovered, classes.BranchesValid
	default:
		if c, ok, err := rate(root, "branch-rate"); err == nil && ok && c > 0 {
			out.BranchesCovered, out.BranchesValid = c, RateScale
		}
	}
	return out, nil
}

// pair reads two count attributes of the root, covered and valid; ok is false when either is absent.
func pair(root xml.StartElement, coveredName, validName string) (covered, valid int, ok bool, err error) {
	cs, okc := attr(root, coveredName)
	vs, okv := attr(root, validName)
	if !okc || !okv {
		return 0, 0, false, nil
	}
	c, errc := strconv.Atoi(strings.TrimSpace(cs))
	v, errv := strconv.Atoi(strings.TrimSpace(vs))
	switch {
	case errc != nil || errv != nil:
		return 0, 0, false, invalid(fmt.Errorf("%s %q, %s %q: not whole numbers", coveredName, cs, validName, vs))
	case c < 0 || c > v:
		return 0, 0, false, invalid(fmt.Errorf("%s %d, %s %d: want 0 <= covered <= valid", coveredName, c, validName, v))
	}
	return c, v, true, nil
}

// rate reads a rate attribute of the root, scaled to RateScale; ok is false when it is absent.
func rate(root xml.StartElement, name string) (int, bool, error) {
	rs, ok := attr(root, name)
	if !ok {
		return 0, false, nil
	}
	r, err := strconv.ParseFloat(strings.TrimSpace(rs), 64)
	if err != nil || !(r >= 0 && r <= 1) {
		return 0, false, invalid(fmt.Errorf("%s %q: want a number from 0 to 1", name, rs))
	}
	return int(math.Round(r * RateScale)), true, nil
}
