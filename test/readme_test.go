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

// TestReadmeQuickStart checks that the quick-start program in README.md is
// the body of Example_quickStart (example_quickstart_test.go), with the
// same imports. go vet and go test compile that Example against the
// current API, so the README's program compiles too: a renamed option
// breaks the Example's build, and a README edited on its own fails here.
func TestReadmeQuickStart(t *testing.T) {
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	src := quickStartBlock(t, string(readme))
	fset := token.NewFileSet()
	rf, err := parser.ParseFile(fset, "README.md quick start", src, parser.ParseComments)
	if err != nil {
		t.Fatalf("the README's quick start does not parse: %v\n%s", err, src)
	}
	ef, err := parser.ParseFile(fset, "../example_quickstart_test.go", nil, parser.ParseComments)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := readmeImports(rf), readmeImports(ef); !slices.Equal(got, want) {
		t.Errorf("README quick start imports %q, example_quickstart_test.go %q", got, want)
	}
	got := readmeFuncBody(t, fset, rf, "main")
	want := readmeFuncBody(t, fset, ef, "Example_quickStart")
	if got != want {
		t.Errorf("README quick start's main differs from Example_quickStart:\n--- README\n%s\n--- example_quickstart_test.go\n%s", got, want)
	}
}

// quickStartBlock returns the first ```go block of the README that is a
// whole program (package main).
func quickStartBlock(t *testing.T, readme string) string {
	t.Helper()
	rest := readme
	for {
		_, after, ok := strings.Cut(rest, "```go\n")
		if !ok {
			t.Fatal("README.md has no ```go block with package main")
		}
		block, tail, ok := strings.Cut(after, "\n```")
		if !ok {
			t.Fatal("README.md: unterminated ```go block")
		}
		if strings.HasPrefix(block, "package main\n") {
			return block + "\n"
		}
		rest = tail
	}
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
