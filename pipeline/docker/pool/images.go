package pool

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/baleen-ci/baleen"
	"github.com/baleen-ci/baleen/pipeline/docker"
)

// Images returns the images of the whole pool as one store, for the work that is not one build's: pruning
// old builds' images, shipping a release's images to its hosts over SSH, checking that an old build's
// images are still there. Each image is found on the engine that has it, which is the one that built it:
// a build's images carry its id and stay on its engine. Engines that are down are left out, so that no call
// waits for an engine that stopped answering; their images are pruned once they are back.
func (p *Pool) Images() baleen.Images { return poolImages{p} }

type poolImages struct{ p *Pool }

var _ baleen.Images = poolImages{}

// up lists the engines that are up, by name.
func (p *Pool) up() []*member {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []*member
	for _, m := range p.members {
		if m.state == StateUp {
			out = append(out, m)
		}
	}
	return out
}

// holder returns the first engine that is up and has every one of refs; an error wrapping
// baleen.ErrNotFound when none has them, which also says which engines could not be asked.
func (pi poolImages) holder(ctx context.Context, refs []string) (*member, error) {
	var errs []error
	for _, m := range pi.p.up() {
		if has, err := hasImages(ctx, m.engine, refs); err != nil {
			errs = append(errs, fmt.Errorf("engine %s: %w", m.name, err))
		} else if has {
			return m, nil
		}
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("images %v: on no engine that answers (%w): %w", refs, errors.Join(errs...), baleen.ErrNotFound)
	}
	return nil, fmt.Errorf("images %v: on no engine of the pool that is up: %w", refs, baleen.ErrNotFound)
}

// hasImages reports whether e has every one of refs.
func hasImages(ctx context.Context, e *docker.Engine, refs []string) (bool, error) {
	for _, ref := range refs {
		ok, err := e.ImageExists(ctx, ref)
		if err != nil || !ok {
			return false, err
		}
	}
	return true, nil
}

// ImageExists reports whether an engine of the pool that is up has ref.
func (pi poolImages) ImageExists(ctx context.Context, ref string) (bool, error) {
	_, err := pi.holder(ctx, []string{ref})
	if errors.Is(err, baleen.ErrNotFound) {
		return false, nil
	}
	return err == nil, err
}

// ListImages lists the images with label on every engine that is up. Engines that fail the call are
// named in the error, which comes back only when none answered; the others' images are listed.
func (pi poolImages) ListImages(ctx context.Context, label string) ([]baleen.Image, error) {
	var (
		out      []baleen.Image
		errs     []error
		answered bool
	)
	for _, m := range pi.p.up() {
		imgs, err := m.engine.ListImages(ctx, label)
		if err != nil {
			pi.p.log.Warn("list images", "host", m.name, "err", err)
			errs = append(errs, fmt.Errorf("engine %s: %w", m.name, err))
			continue
		}
		answered = true
		out = append(out, imgs...)
	}
	if !answered && len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return out, nil
}

// RemoveImage removes ref from every engine that is up and has it.
func (pi poolImages) RemoveImage(ctx context.Context, ref string) error {
	var errs []error
	for _, m := range pi.p.up() {
		if err := m.engine.RemoveImage(ctx, ref); err != nil {
			errs = append(errs, fmt.Errorf("engine %s: %w", m.name, err))
		}
	}
	return errors.Join(errs...)
}

// SaveImages saves refs from the engine that has them all.
func (pi poolImages) SaveImages(ctx context.Context, refs []string) (io.ReadCloser, error) {
	m, err := pi.holder(ctx, refs)
	if err != nil {
		return nil, err
	}
	pi.p.log.Debug("save images", "host", m.name, "refs", refs)
	return m.engine.SaveImages(ctx, refs)
}

// Push pushes ref from the engine that has it.
func (pi poolImages) Push(ctx context.Context, ref string, auth *baleen.RegistryAuth, out io.Writer) (string, error) {
	m, err := pi.holder(ctx, []string{ref})
	if err != nil {
		return "", err
	}
	return m.engine.Push(ctx, ref, auth, out)
}
