package notify

import (
	"fmt"
	"strings"
)

func fmtf(format string, args ...any) string { return fmt.Sprintf(format, args...) }

// line is the chat form of m: its title and a link.
func line(m *Message) string {
	s := m.Title()
	if m.Links != nil && m.Links.Build != "" {
		s += " " + m.Links.Build
	}
	return s
}

// chatText is the chat message of m: one line per notification.
func chatText(m *Message) string {
	if m.Event != EventDigest {
		return line(m)
	}
	var b strings.Builder
	b.WriteString(m.Title())
	for i := range m.Digest {
		b.WriteString("\n- " + line(&m.Digest[i]))
	}
	return b.String()
}

// mailText is the plain-text body of a mail about m: what happened, the failing tests and the last log
// lines.
func mailText(m *Message) string {
	var b strings.Builder
	if m.Event == EventDigest {
		b.WriteString(m.Title() + "\n")
		for i := range m.Digest {
			b.WriteString("\n" + strings.Repeat("-", 72) + "\n")
			b.WriteString(mailText(&m.Digest[i]))
		}
		return b.String()
	}
	b.WriteString(m.Title() + "\n\n")
	field := func(k, v string) {
		if v != "" {
			fmt.Fprintf(&b, "%-9s %s\n", k+":", v)
		}
	}
	field("Project", m.Project)
	if m.Build > 0 {
		field("Build", fmtf("#%d", m.Build))
	}
	field("Branch", m.Branch)
	field("Commit", m.Commit)
	field("Pusher", m.Pusher)
	field("Verdict", m.Verdict)
	field("Reason", m.Reason)
	if m.Tests != nil {
		field("Tests", fmtf("%d passed, %d failed, %d skipped", m.Tests.Passed, m.Tests.Failed, m.Tests.Skipped))
	}
	if m.Coverage != nil {
		cov := fmtf("%.1f%%", *m.Coverage)
		if m.CoverageDelta != nil {
			cov += fmtf(" (%+.1f)", *m.CoverageDelta)
		}
		field("Coverage", cov)
	}
	if m.Links != nil {
		field("Build", m.Links.Build)
		field("Log", m.Links.Log)
	}
	if len(m.FailingTests) > 0 {
		b.WriteString("\nFailing tests:\n")
		for _, t := range m.FailingTests {
			fmt.Fprintf(&b, "  %s (since #%d)\n", t.Name, t.Since)
			if t.Message != "" {
				fmt.Fprintf(&b, "      %s\n", firstLine(t.Message))
			}
		}
	}
	if len(m.LogTail) > 0 {
		b.WriteString("\nLast lines of the log:\n")
		for _, l := range m.LogTail {
			b.WriteString("  " + l + "\n")
		}
	}
	return b.String()
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	return s
}
