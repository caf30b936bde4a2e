package gitd

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/storage/filesystem"

	"github.com/baleen-ci/baleen"
)

// receiveCaps are the capabilities receive-pack advertises. no-thin: go-git cannot index a thin pack.
const receiveCaps = "report-status delete-refs side-band-64k ofs-delta no-thin agent=baleen"

// maxCommands bounds the ref updates of one push.
const maxCommands = 10000

// command is one ref update line of a push.
type command struct {
	RefUpdate
	err error // set when the update is refused before the Receiver sees it
}

// receivePack serves `git push`: it advertises the refs, reads the ref updates and the pack, stores the
// objects, asks the Receiver, moves the refs it allowed by compare-and-swap under the project's lock, and
// reports to the client. It returns the exit status.
func (s *Server) receivePack(c *call, project string) int {
	log := s.log.With("project", project, "key", c.fingerprint)
	exists, err := s.repoExists(project)
	if err != nil {
		log.Error("receive-pack", "err", err)
		c.errorf("baleen: cannot open %s; see the server log\n", project)
		return 1
	}
	var refs []advertisedRef
	if exists {
		if refs, err = listRefs(openStorage(s.repoPath(project))); err != nil {
			log.Error("receive-pack", "err", err)
			c.errorf("baleen: cannot read the refs of %s; see the server log\n", project)
			return 1
		}
	}
	if err := writeAdvertisement(c.stdout, refs, nil, receiveCaps); err != nil {
		log.Debug("receive-pack: advertise", "err", err)
		return 1
	}

	pr := newPktReader(c.stdin)
	cmds, caps, err := readCommands(pr)
	if err != nil {
		log.Warn("receive-pack: bad request", "err", err)
		c.errorf("baleen: %v\n", err)
		return 1
	}
	if len(cmds) == 0 {
		return 0 // up to date: the client sent a flush and waits for nothing
	}
	out := newBandWriter(c.stdout, caps["side-band-64k"], caps["side-band"])
	// The client's going away must not stop the push, so the pump watches the client and the work does not.
	prog := startProgress(c.ctx, out, s.keepalive, func(reason string) {
		log.Info("client gone; the push goes on", "err", reason)
	})

	created, err := s.ensureRepo(project)
	if err != nil {
		log.Error("receive-pack", "err", err)
		prog.stopAndFlush()
		for i := range cmds {
			cmds[i].err = errors.New("cannot create the repository; see the server log")
		}
		if err := s.report(out, caps, cmds, "cannot create the repository"); err != nil {
			log.Debug("receive-pack: report", "err", err)
		}
		return 0
	}
	if created {
		log.Info("project created")
	}
	repo := s.repoPath(project)

	unpackStatus := "ok"
	if needsPack(cmds) {
		if n, err := storePack(repo, c.stdin); err != nil {
			log.Warn("receive-pack: unpack", "err", err)
			unpackStatus = oneLine(err.Error())
			for i := range cmds {
				cmds[i].err = errors.New("unpacker error")
			}
		} else {
			log.Debug("pack stored", "objects", n)
		}
	}

	sto := openStorage(repo)
	checkCommands(sto, cmds)
	push := Push{Project: project, RepoPath: repo, Created: created, Fingerprint: c.fingerprint}
	var idx []int
	for i, cmd := range cmds {
		if cmd.err == nil {
			push.Updates = append(push.Updates, cmd.RefUpdate)
			idx = append(idx, i)
		}
	}
	if len(push.Updates) > 0 {
		errs := s.receiver.Receive(s.base, push, prog)
		for j, i := range idx {
			switch {
			case j < len(errs) && errs[j] != nil:
				cmds[i].err = errs[j]
			case j >= len(errs):
				cmds[i].err = fmt.Errorf("the build gave no verdict for %s", cmds[i].Name)
				log.Error("receiver returned too few results", "got", len(errs), "want", len(push.Updates))
			}
		}
		s.moveRefs(project, sto, cmds, idx)
		if pr, ok := s.receiver.(PostReceiver); ok {
			var moved []RefUpdate
			for _, i := range idx {
				if cmds[i].err == nil {
					moved = append(moved, cmds[i].RefUpdate)
				}
			}
			pr.PostReceive(s.base, push, moved)
		}
	}
	for _, cmd := range cmds {
		lvl := slog.LevelInfo
		if cmd.err != nil {
			lvl = slog.LevelWarn
		}
		log.Log(s.base, lvl, "push", "ref", cmd.Name, "commit", cmd.New, "old", cmd.Old, "err", cmd.err)
	}

	prog.stopAndFlush()
	if err := s.report(out, caps, cmds, unpackStatus); err != nil {
		log.Debug("receive-pack: report", "err", err)
	}
	return 0
}

// moveRefs applies the updates the Receiver allowed, one push at a time per project.
func (s *Server) moveRefs(project string, sto *filesystem.Storage, cmds []command, idx []int) {
	unlock := s.locks.lock(project)
	defer unlock()
	moved := false
	for _, i := range idx {
		if cmds[i].err != nil {
			continue
		}
		if err := updateRef(sto, cmds[i].RefUpdate); err != nil {
			cmds[i].err = err
			continue
		}
		moved = true
	}
	if moved {
		if err := fixHead(sto); err != nil {
			s.log.Warn("set HEAD", "project", project, "err", err)
		}
	}
}

// readCommands reads the ref update lines of a push and the capabilities the client chose. No lines (a
// flush, or the client closing the stream) means there is nothing to do.
func readCommands(pr *pktReader) ([]command, map[string]bool, error) {
	caps := map[string]bool{}
	var cmds []command
	for {
		line, flush, err := pr.next()
		if errors.Is(err, io.EOF) && len(cmds) == 0 {
			return nil, caps, nil
		}
		if err != nil {
			return nil, nil, fmt.Errorf("read push commands: %w", err)
		}
		if flush {
			return cmds, caps, nil
		}
		if len(cmds) >= maxCommands {
			return nil, nil, fmt.Errorf("more than %d ref updates in one push: %w", maxCommands, baleen.ErrInvalid)
		}
		if bytes.HasPrefix(line, []byte("shallow ")) {
			return nil, nil, fmt.Errorf("pushing from a shallow clone is not supported; run git fetch --unshallow first: %w", baleen.ErrInvalid)
		}
		if len(cmds) == 0 {
			if i := bytes.IndexByte(line, 0); i >= 0 {
				for _, c := range strings.Fields(string(line[i+1:])) {
					caps[c] = true
				}
				line = line[:i]
			}
		}
		cmd, err := parseCommandLine(string(bytes.TrimSuffix(line, []byte("\n"))))
		if err != nil {
			return nil, nil, err
		}
		cmds = append(cmds, command{RefUpdate: cmd})
	}
}

// parseCommandLine parses "<old> <new> <ref>".
func parseCommandLine(line string) (RefUpdate, error) {
	old, rest, ok1 := strings.Cut(line, " ")
	nw, name, ok2 := strings.Cut(rest, " ")
	if !ok1 || !ok2 || !plumbing.IsHash(old) || !plumbing.IsHash(nw) || name == "" {
		return RefUpdate{}, fmt.Errorf("malformed ref update %q: %w", line, baleen.ErrInvalid)
	}
	return RefUpdate{Name: name, Old: strings.ToLower(old), New: strings.ToLower(nw)}, nil
}

// needsPack reports whether the client sends a pack: it does unless every update is a delete.
func needsPack(cmds []command) bool {
	for _, c := range cmds {
		if c.New != zeroID {
			return true
		}
	}
	return false
}

// checkCommands refuses, before the Receiver sees them, the updates that cannot apply: a bad ref name, a
// repeated ref, a new value whose object is missing, a branch pointing at something other than a commit, or
// an old value the ref no longer holds.
func checkCommands(sto *filesystem.Storage, cmds []command) {
	seen := map[string]bool{}
	for i := range cmds {
		c := &cmds[i]
		if c.err != nil {
			continue
		}
		name := plumbing.ReferenceName(c.Name)
		switch {
		case !strings.HasPrefix(c.Name, "refs/") || name.Validate() != nil:
			c.err = errors.New("invalid ref name")
			continue
		case seen[c.Name]:
			c.err = errors.New("ref updated twice in one push")
			continue
		}
		seen[c.Name] = true
		if c.New != zeroID {
			obj, err := sto.EncodedObject(plumbing.AnyObject, plumbing.NewHash(c.New))
			if err != nil {
				c.err = errors.New("missing necessary objects")
				continue
			}
			if name.IsBranch() && obj.Type() != plumbing.CommitObject {
				c.err = fmt.Errorf("a branch must point at a commit, not a %s", obj.Type())
				continue
			}
		}
		cur := zeroID
		if ref, err := sto.Reference(name); err == nil {
			cur = ref.Hash().String()
		}
		if cur != c.Old {
			c.err = fmt.Errorf("%s is at %s now, not %s; fetch first: %w", c.Name, short(plumbing.NewHash(cur)), short(plumbing.NewHash(c.Old)), baleen.ErrConflict)
		}
	}
}

// report sends git's report-status: "unpack <status>", then "ok <ref>" or "ng <ref> <why>" per update.
func (s *Server) report(out *bandWriter, caps map[string]bool, cmds []command, unpackStatus string) error {
	if !caps["report-status"] {
		return out.flush()
	}
	var b []byte
	b = appendPkt(b, []byte("unpack "+unpackStatus+"\n"))
	for _, c := range cmds {
		if c.err == nil {
			b = appendPkt(b, []byte("ok "+c.Name+"\n"))
		} else {
			b = appendPkt(b, []byte("ng "+c.Name+" "+oneLine(c.err.Error())+"\n"))
		}
	}
	b = append(b, flushPkt...)
	if err := out.send(bandData, b); err != nil {
		return err
	}
	return out.flush()
}

// oneLine makes a message fit one line of a report: no line breaks, at most 1000 bytes.
func oneLine(msg string) string {
	msg = strings.Join(strings.Fields(strings.Map(func(r rune) rune {
		if r < ' ' || r == 0x7f {
			return ' '
		}
		return r
	}, msg)), " ")
	if len(msg) > 1000 {
		msg = msg[:1000] + "..."
	}
	if msg == "" {
		msg = "rejected"
	}
	return msg
}

// writeAdvertisement sends the ref advertisement: HEAD first when head is set, then refs by name with peeled
// tags, capabilities on the first line, and a flush. An empty repository is advertised as git does, with a
// zero id named "capabilities^{}".
func writeAdvertisement(w io.Writer, refs []advertisedRef, head *advertisedRef, caps string) error {
	var b []byte
	first := true
	line := func(hash plumbing.Hash, name string) {
		if first {
			b = appendPkt(b, []byte(hash.String()+" "+name+"\x00"+caps+"\n"))
			first = false
			return
		}
		b = appendPkt(b, []byte(hash.String()+" "+name+"\n"))
	}
	if head != nil {
		line(head.hash, "HEAD")
	}
	for _, r := range refs {
		line(r.hash, r.name)
		if !r.peeled.IsZero() {
			line(r.peeled, r.name+"^{}")
		}
	}
	if first {
		line(plumbing.ZeroHash, "capabilities^{}")
	}
	b = append(b, flushPkt...)
	_, err := w.Write(b)
	return err
}
