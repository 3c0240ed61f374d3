package test

import (
	"bytes"
	"go/ast"
	"go/parser"
	"go/printer"
	"go/token"
	"os"
	"slices"
	"strings"
	"testing"
)

// TestReadmeQuickStart checks that the README's two programs (the quick
// start on one laptop, then the one for Kubernetes) are the bodies of
// Example_quickStart and Example_kubernetes, with the same imports. go vet
// and go test compile those Examples against the current API, so the
// README's programs compile too: a renamed option breaks an Example's
// build, and a README edited on its own fails here.
func TestReadmeQuickStart(t *testing.T) {
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	blocks := programBlocks(string(readme))
	for i, want := range []struct{ file, example string }{
		{"../example_quickstart_test.go", "Example_quickStart"},
		{"../example_kubernetes_test.go", "Example_kubernetes"},
	} {
		if i >= len(blocks) {
			t.Fatalf("README.md has %d Go programs (package main); want the one of %s as number %d", len(blocks), want.example, i+1)
		}
		fset := token.NewFileSet()
		rf, err := parser.ParseFile(fset, "README.md program", blocks[i], parser.ParseComments)
		if err != nil {
			t.Fatalf("the README's program %d does not parse: %v\n%s", i+1, err, blocks[i])
		}
		ef, err := parser.ParseFile(fset, want.file, nil, parser.ParseComments)
		if err != nil {
			t.Fatal(err)
		}
		if got, w := readmeImports(rf), readmeImports(ef); !slices.Equal(got, w) {
			t.Errorf("README program %d imports %q, %s %q", i+1, got, want.file, w)
		}
		got := readmeFuncBody(t, fset, rf, "main")
		body := readmeFuncBody(t, fset, ef, want.example)
		if got != body {
			t.Errorf("README program %d's main differs from %s:\n--- README\n%s\n--- %s\n%s", i+1, want.example, got, want.file, body)
		}
	}
}

// programBlocks returns the ```go blocks of the README that are whole
// programs (package main), in order.
func programBlocks(readme string) []string {
	var out []string
	rest := readme
	for {
		_, after, ok := strings.Cut(rest, "```go\n")
		if !ok {
			return out
		}
		block, tail, ok := strings.Cut(after, "\n```")
		if !ok {
			return out
		}
		if strings.HasPrefix(block, "package main\n") {
			out = append(out, block+"\n")
		}
		rest = tail
	}
}

// quickStartBlock returns the README's first program.
func quickStartBlock(t *testing.T, readme string) string {
	t.Helper()
	blocks := programBlocks(readme)
	if len(blocks) == 0 {
		t.Fatal("README.md has no ```go block with package main")
	}
	return blocks[0]
}

func readmeImports(f *ast.File) []string {
	var out []string
	for _, im := range f.Imports {
		out = append(out, im.Path.Value)
	}
	slices.Sort(out)
	return out
}

// readmeFuncBody prints the statements of the top-level function name, comments
// included, in gofmt's layout.
func readmeFuncBody(t *testing.T, fset *token.FileSet, f *ast.File, name string) string {
	t.Helper()
	for _, d := range f.Decls {
		fd, ok := d.(*ast.FuncDecl)
		if !ok || fd.Name.Name != name || fd.Recv != nil {
			continue
		}
		var b bytes.Buffer
		cfg := printer.Config{Mode: printer.UseSpaces | printer.TabIndent, Tabwidth: 8}
		if err := cfg.Fprint(&b, fset, &printer.CommentedNode{Node: fd.Body, Comments: f.Comments}); err != nil {
			t.Fatal(err)
		}
		return b.String()
	}
	t.Fatalf("no func %s", name)
	return ""
}
