// Command docgen turns the doc comments of the fields of the values types (generator/values.go) into a Go map,
// so that the mpcguard binary, which has no source, writes them into values.yaml, values.schema.json and the
// chart READMEs. Run by `go generate ./generator`; generator's tests fail when its output drifts.
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/mpcguard/mpcguard/generator/valuesdoc"
)

func main() {
	out := flag.String("o", "values_docs.go", "output file")
	flag.Parse()
	if flag.NArg() != 1 {
		fmt.Fprintln(os.Stderr, "usage: docgen -o OUT.go values.go")
		os.Exit(2)
	}
	src, err := os.ReadFile(flag.Arg(0))
	if err == nil {
		var code []byte
		code, err = valuesdoc.DocsSource(src, "generator", "valueDocs", "go run ./internal/docgen -o values_docs.go values.go")
		if err == nil {
			err = os.WriteFile(*out, code, 0o644)
		}
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "docgen:", err)
		os.Exit(1)
	}
}
