// Package registrytest helps tests that push images: it hands out the addresses of the two local test
// registries scripts/registry.sh runs (anonymous on 127.0.0.1:5000, basic auth on 127.0.0.1:5001),
// failing the test when they do not answer and CI is set and skipping it otherwise; it reads what a
// registry holds through its HTTP API (tags, manifest digests), deletes manifests, and gives an address
// where no registry listens.
//
// It sits beside pipeline/docker, whose Engine pushes the images that passed in the push image stage of
// the flow push -> build -> test -> push image -> deploy, and is imported by tests only.
package registrytest
