package main

import (
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/baleen-ci/baleen/pipeline/spec"
)

func cmdValidate(args []string, e env) int {
	fl := flag.NewFlagSet("validate", flag.ContinueOnError)
	fl.SetOutput(e.stderr)
	fl.Usage = func() { fmt.Fprintln(e.stderr, "usage: baleen validate [FILE]   (FILE defaults to ./baleen.yml)") }
	if err := fl.Parse(args); err != nil {
		return exitUsage
	}
	if fl.NArg() > 1 {
		fl.Usage()
		return exitUsage
	}
	file := "baleen.yml"
	if fl.NArg() == 1 {
		file = fl.Arg(0)
	}
	f, err := readSpec(file)
	if err != nil {
		fmt.Fprintln(e.stderr, err)
		return exitUsage
	}
	if len(f.Warnings) > 0 {
		fmt.Fprintln(e.stderr, f.Warnings)
	}
	fmt.Fprintf(e.stdout, "%s: valid\n", file)
	return exitOK
}

// readSpec reads and parses a baleen.yml; its errors are ready to print. It reads at most spec.MaxSize
// bytes, and names a larger file's real size.
func readSpec(file string) (*spec.File, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, fmt.Errorf("baleen: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, spec.MaxSize+1))
	if err != nil {
		return nil, fmt.Errorf("baleen: read %s: %w", file, err)
	}
	if len(data) > spec.MaxSize {
		size := int64(len(data))
		if info, err := f.Stat(); err == nil && info.Mode().IsRegular() {
			size = info.Size()
		}
		return nil, spec.Errors{spec.TooLarge(file, size)}
	}
	return spec.ParseFile(file, data)
}
