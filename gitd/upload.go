package gitd

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/format/packfile"
	"github.com/go-git/go-git/v5/plumbing/revlist"

	"github.com/baleen-ci/baleen"
)

// uploadCaps are the capabilities upload-pack advertises, besides symref. Without multi_ack the negotiation
// is git's simplest: "ACK" for the first common commit, "NAK" at each flush until then.
const uploadCaps = "side-band-64k side-band ofs-delta no-progress agent=baleen"

// maxWants bounds the objects one fetch may ask for.
const maxWants = 100000

// uploadPack serves `git clone` and `git fetch`: it advertises the refs, negotiates what the client has,
// and sends a pack of the rest, built with go-git. It returns the exit status.
func (s *Server) uploadPack(c *call, project string) int {
	log := s.log.With("project", project, "key", c.fingerprint)
	exists, err := s.repoExists(project)
	if err != nil {
		log.Error("upload-pack", "err", err)
		c.errorf("baleen: cannot open %s; see the server log\n", project)
		return 1
	}
	if !exists {
		c.errorf("baleen: project %s not found\n", project)
		return 1
	}
	sto := openStorage(s.repoPath(project))
	refs, err := listRefs(sto)
	if err != nil {
		log.Error("upload-pack", "err", err)
		c.errorf("baleen: cannot read the refs of %s; see the server log\n", project)
		return 1
	}
	caps := uploadCaps
	var headRef *advertisedRef
	if target, hash, ok := head(sto); ok {
		headRef = &advertisedRef{name: "HEAD", hash: hash}
		caps += " symref=HEAD:" + target.String()
	}
	if err := writeAdvertisement(c.stdout, refs, headRef, caps); err != nil {
		log.Debug("upload-pack: advertise", "err", err)
		return 1
	}
	ours := map[plumbing.Hash]bool{}
	for _, r := range refs {
		ours[r.hash] = true
		if !r.peeled.IsZero() {
			ours[r.peeled] = true
		}
	}

	pr := newPktReader(c.stdin)
	wants, clientCaps, err := readWants(pr, ours)
	if err != nil {
		log.Warn("upload-pack: bad request", "err", err)
		writeErrPkt(c.stdout, err)
		return 1
	}
	if len(wants) == 0 {
		return 0 // the client is up to date
	}
	common, err := negotiate(pr, c.stdout, func(h plumbing.Hash) bool {
		_, err := sto.EncodedObject(plumbing.AnyObject, h)
		return err == nil
	})
	if err != nil {
		log.Warn("upload-pack: negotiation", "err", err)
		return 1
	}

	out := newBandWriter(c.stdout, clientCaps["side-band-64k"], clientCaps["side-band"])
	objs, err := revlist.Objects(sto, wants, common)
	if err == nil {
		enc := packfile.NewEncoder(bandWriterFunc(func(p []byte) error { return out.send(bandData, p) }), sto, !clientCaps["ofs-delta"])
		_, err = enc.Encode(objs, 10)
	}
	if err != nil {
		log.Error("upload-pack: pack", "err", err)
		_ = out.send(bandError, []byte("baleen: cannot build the pack; see the server log\n"))
		return 1
	}
	if err := out.flush(); err != nil {
		log.Debug("upload-pack: flush", "err", err)
	}
	log.Debug("fetch served", "objects", len(objs))
	return 0
}

// readWants reads the "want" lines up to the flush and the capabilities of the first. Only advertised objects
// may be wanted. No lines means the client wants nothing.
func readWants(pr *pktReader, ours map[plumbing.Hash]bool) ([]plumbing.Hash, map[string]bool, error) {
	caps := map[string]bool{}
	var wants []plumbing.Hash
	for {
		line, flush, err := pr.next()
		if errors.Is(err, io.EOF) && len(wants) == 0 {
			return nil, caps, nil
		}
		if err != nil {
			return nil, nil, fmt.Errorf("read wants: %w", err)
		}
		if flush {
			return wants, caps, nil
		}
		fields := strings.Fields(string(line))
		if len(fields) < 2 || fields[0] != "want" || !plumbing.IsHash(fields[1]) {
			return nil, nil, fmt.Errorf("unexpected %q; shallow clones and filters are not supported: %w", firstWords(line), baleen.ErrInvalid)
		}
		if len(wants) == 0 {
			for _, c := range fields[2:] {
				caps[c] = true
			}
		}
		h := plumbing.NewHash(fields[1])
		if !ours[h] {
			return nil, nil, fmt.Errorf("not our ref %s: %w", h, baleen.ErrInvalid)
		}
		if len(wants) >= maxWants {
			return nil, nil, fmt.Errorf("more than %d wants: %w", maxWants, baleen.ErrInvalid)
		}
		wants = append(wants, h)
	}
}

// negotiate reads the client's "have" lines until "done" and answers as git's upload-pack does without
// multi_ack: "ACK <id>" for the first object both sides have, "NAK" at a flush while there is none, and a
// final "NAK" after "done" if there never was one. It returns the common objects.
func negotiate(pr *pktReader, w io.Writer, have func(plumbing.Hash) bool) ([]plumbing.Hash, error) {
	var common []plumbing.Hash
	seen := map[plumbing.Hash]bool{}
	for {
		line, flush, err := pr.next()
		if err != nil {
			return nil, fmt.Errorf("read haves: %w", err)
		}
		switch {
		case flush:
			if len(common) == 0 {
				if _, err := w.Write(appendPkt(nil, []byte("NAK\n"))); err != nil {
					return nil, err
				}
			}
		case bytes.Equal(bytes.TrimSuffix(line, []byte("\n")), []byte("done")):
			if len(common) == 0 {
				if _, err := w.Write(appendPkt(nil, []byte("NAK\n"))); err != nil {
					return nil, err
				}
			}
			return common, nil
		default:
			fields := strings.Fields(string(line))
			if len(fields) != 2 || fields[0] != "have" || !plumbing.IsHash(fields[1]) {
				return nil, fmt.Errorf("unexpected %q during negotiation: %w", firstWords(line), baleen.ErrInvalid)
			}
			h := plumbing.NewHash(fields[1])
			if seen[h] || !have(h) {
				continue
			}
			seen[h] = true
			common = append(common, h)
			if len(common) == 1 {
				if _, err := w.Write(appendPkt(nil, []byte("ACK "+h.String()+"\n"))); err != nil {
					return nil, err
				}
			}
		}
	}
}

// writeErrPkt tells a git client why the server stops, as an "ERR" line git shows as "remote error".
func writeErrPkt(w io.Writer, err error) {
	_, _ = w.Write(appendPkt(nil, []byte("ERR "+oneLine(err.Error())+"\n")))
}

// firstWords is the start of a protocol line, for an error message.
func firstWords(line []byte) string {
	s := oneLine(string(line))
	if len(s) > 60 {
		s = s[:60] + "..."
	}
	return s
}
