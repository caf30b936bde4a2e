package spec

import (
	"fmt"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"
)

// checkAfter checks each dependency's after list: every entry names another dependency of the file, once,
// and following them never leads back to where it started. names are the dependencies' hostnames in file
// order; after holds, by hostname, the nodes of its after list. Linear in the number of entries.
func (p *parser) checkAfter(names []string, after map[string][]*yaml.Node) {
	known := make(map[string]bool, len(names))
	for _, n := range names {
		known[n] = true
	}
	edges := make(map[string][]string, len(after))
	for _, name := range names {
		seen := make(map[string]bool)
		for i, n := range after[name] {
			path := fmt.Sprintf("depends.%s.after[%d]", name, i)
			switch ref := n.Value; {
			case ref == name:
				p.errorf(n, "%s: a dependency cannot wait for itself", path)
			case !known[ref]:
				if s := p.suggest(ref, names); s != "" {
					p.errorf(n, "%s: %q is not one of the dependencies; did you mean %s?", path, ref, s)
				} else {
					p.errorf(n, "%s: %q is not one of the dependencies (%s)", path, ref, truncate(strings.Join(names, ", "), 200))
				}
			case seen[ref]:
				p.errorf(n, "%s: %s is listed twice", path, ref)
			default:
				seen[ref] = true
				edges[name] = append(edges[name], ref)
			}
		}
	}
	if cycle := findCycle(names, edges); cycle != nil {
		first := after[cycle[0]][0]
		for _, n := range after[cycle[0]] {
			if n.Value == cycle[1] {
				first = n
			}
		}
		p.errorf(first, "depends.%s.after: the dependencies wait for each other in a circle: %s", cycle[0], strings.Join(cycle, " -> "))
	}
}

// findCycle returns one cycle of edges as the names along it, the first repeated at the end, or nil.
// Iterative depth-first search, in file order: each name is visited once.
func findCycle(names []string, edges map[string][]string) []string {
	const (
		unseen = iota
		onPath
		done
	)
	state := make(map[string]int, len(names))
	type frame struct {
		name string
		next int
	}
	for _, root := range names {
		if state[root] != unseen {
			continue
		}
		stack := []frame{{name: root}}
		state[root] = onPath
		for len(stack) > 0 {
			top := &stack[len(stack)-1]
			if top.next == len(edges[top.name]) {
				state[top.name] = done
				stack = stack[:len(stack)-1]
				continue
			}
			to := edges[top.name][top.next]
			top.next++
			switch state[to] {
			case onPath:
				var cycle []string
				for i := slices.IndexFunc(stack, func(f frame) bool { return f.name == to }); i < len(stack); i++ {
					cycle = append(cycle, stack[i].name)
				}
				return append(cycle, to)
			case unseen:
				state[to] = onPath
				stack = append(stack, frame{name: to})
			}
		}
	}
	return nil
}
