package web

import (
	"html"
	"strconv"
	"strings"
)

// ansiHTML renders one line of build output as HTML: text escaped, SGR colours and bold as spans with
// classes (a-fN foreground, a-bN background, a-bold), every other escape sequence dropped.
func ansiHTML(line string) string {
	if !strings.Contains(line, "\x1b") {
		return html.EscapeString(line)
	}
	var b strings.Builder
	var st sgr
	open := false
	for len(line) > 0 {
		i := strings.IndexByte(line, 0x1b)
		if i < 0 {
			b.WriteString(html.EscapeString(line))
			break
		}
		b.WriteString(html.EscapeString(line[:i]))
		line = line[i+1:]
		params, rest, final := escape(line)
		line = rest
		if final != 'm' {
			continue
		}
		st.apply(params)
		if open {
			b.WriteString("</span>")
			open = false
		}
		if c := st.class(); c != "" {
			b.WriteString(`<span class="` + c + `">`)
			open = true
		}
	}
	if open {
		b.WriteString("</span>")
	}
	return b.String()
}

// escape splits a CSI sequence (after ESC) into its parameters, the rest of the line and its final byte;
// final is 0 for any other escape, which is dropped with its next byte.
func escape(s string) (params, rest string, final byte) {
	if s == "" {
		return "", "", 0
	}
	if s[0] != '[' {
		return "", s[1:], 0
	}
	for j := 1; j < len(s); j++ {
		if c := s[j]; c >= 0x40 && c <= 0x7e {
			return s[1:j], s[j+1:], c
		}
	}
	return "", "", 0
}

// sgr is the current text style.
type sgr struct {
	fg, bg int // 0 for default, else 1..16
	bold   bool
}

func (s *sgr) apply(params string) {
	if params == "" {
		*s = sgr{}
		return
	}
	for _, p := range strings.Split(params, ";") {
		n, err := strconv.Atoi(p)
		if err != nil {
			continue
		}
		switch {
		case n == 0:
			*s = sgr{}
		case n == 1:
			s.bold = true
		case n == 22:
			s.bold = false
		case n >= 30 && n <= 37:
			s.fg = n - 29
		case n == 39:
			s.fg = 0
		case n >= 40 && n <= 47:
			s.bg = n - 39
		case n == 49:
			s.bg = 0
		case n >= 90 && n <= 97:
			s.fg = n - 81
		case n >= 100 && n <= 107:
			s.bg = n - 91
		}
	}
}

func (s sgr) class() string {
	var c []string
	if s.fg > 0 {
		c = append(c, "a-f"+strconv.Itoa(s.fg))
	}
	if s.bg > 0 {
		c = append(c, "a-b"+strconv.Itoa(s.bg))
	}
	if s.bold {
		c = append(c, "a-bold")
	}
	return strings.Join(c, " ")
}
