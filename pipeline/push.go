package pipeline

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/baleen-ci/baleen"
)

// push tags each image the spec's push section names with each of its tags under the registry, pushes
// them, records their digests and removes the registry tags from the engine again (the per-build tag
// stays).
func (b *build) push(ctx context.Context) error {
	p := b.Spec.Push
	names := p.Images
	if len(names) == 0 {
		for _, img := range b.Spec.Build {
			names = append(names, img.Name)
		}
	}
	tags, err := pushTags(p.Tags, b.Commit, b.Branch, b.Number)
	if err != nil {
		return err
	}
	var auth *baleen.RegistryAuth
	if b.Registry.Auth != nil {
		auth = b.Registry.Auth(p.Registry)
	}
	if auth == nil {
		fmt.Fprintf(b.out, "pushing to %s anonymously\n", p.Registry)
	} else {
		fmt.Fprintf(b.out, "pushing to %s as %s\n", p.Registry, auth.Username)
	}
	for _, name := range names {
		repo, err := pushRepository(p, b.Project, name)
		if err != nil {
			return err
		}
		for _, tag := range tags {
			ref := p.Registry + "/" + repo + ":" + tag
			if err := b.p.engine.Tag(ctx, b.images[name], ref); err != nil {
				return fmt.Errorf("tag %s: %w", ref, err)
			}
			digest, err := b.Registry.Images.Push(ctx, ref, auth, b.out)
			// The registry tag was only for pushing: the per-build tag keeps the image.
			if rerr := b.Registry.Images.RemoveImage(context.WithoutCancel(ctx), ref); rerr != nil {
				fmt.Fprintf(b.out, "warning: untag %s: %v\n", ref, rerr)
			}
			if err != nil {
				return fmt.Errorf("push %s: %w", ref, err)
			}
			fmt.Fprintf(b.out, "pushed %s@%s\n", ref, digest)
			b.pushed = append(b.pushed, baleen.PushedImage{Ref: ref, Digest: digest, Image: name})
		}
	}
	return nil
}

// repoComponent is one path component of a registry repository name.
var repoComponent = regexp.MustCompile(`^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$`)

// pushRepository is the repository image is pushed to by a build of project (baleen.Push.Repository),
// refused when the project's name cannot be a component of a repository name ("x-", "_x"): then
// push.repositories must name it.
func pushRepository(p *baleen.Push, project, image string) (string, error) {
	_, explicit := p.Repositories[image]
	if !explicit && project != "" && !repoComponent.MatchString(project) {
		return "", fmt.Errorf("image %s: the project name %s cannot be part of a registry repository name, which the default %s/%s would be; name its repository under push.repositories", image, project, project, image)
	}
	return p.Repository(project, image), nil
}

// DefaultPushTags are the tags pushed when baleen.yml names none.
var DefaultPushTags = []string{"commit", "branch", "latest"}

var unsafeTag = regexp.MustCompile(`[^A-Za-z0-9_.-]+`)

// pushTags turns the tag words of a push section into tags: commit (the full commit id), short (its
// first 12 characters), branch (the branch made tag-safe), build (b<number>), latest, or a literal tag.
func pushTags(words []string, commit, branch string, number int) ([]string, error) {
	if len(words) == 0 {
		words = DefaultPushTags
	}
	var tags []string
	seen := map[string]bool{}
	for _, w := range words {
		var tag string
		switch w {
		case "commit":
			tag = commit
		case "short":
			tag = short(commit)
		case "branch":
			tag = strings.Trim(unsafeTag.ReplaceAllString(branch, "-"), ".-")
		case "build":
			if number > 0 {
				tag = fmt.Sprintf("b%d", number)
			}
		default:
			tag = w
		}
		if len(tag) > 128 {
			tag = tag[:128]
		}
		if tag == "" {
			return nil, errors.New("push tag " + w + ": nothing to name it after (no " + w + " in this build)")
		}
		if !seen[tag] {
			seen[tag] = true
			tags = append(tags, tag)
		}
	}
	return tags, nil
}
