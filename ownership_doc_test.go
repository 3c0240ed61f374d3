package gencluster

import (
	"os"
	"strings"
	"testing"
)

// TestOwnershipDocQuotesTheExample: the job scheduler of docs/ownership.md
// is the code of example_ownership_test.go, which compiles and runs.
func TestOwnershipDocQuotesTheExample(t *testing.T) {
	doc, err := os.ReadFile("docs/ownership.md")
	if err != nil {
		t.Fatal(err)
	}
	src, err := os.ReadFile("example_ownership_test.go")
	if err != nil {
		t.Fatal(err)
	}
	const from = "// scheduler runs each job"
	_, quote, ok := strings.Cut(string(doc), from)
	if !ok {
		t.Fatalf("docs/ownership.md does not quote the scheduler (%q)", from)
	}
	quote, _, _ = strings.Cut(quote, "```")
	if !strings.Contains(string(src), from+quote) {
		t.Fatalf("docs/ownership.md quotes a scheduler that is not example_ownership_test.go's:\n%s", from+quote)
	}
	if len(quote) < 500 {
		t.Fatalf("the quote is only %d bytes: the code block ends early", len(quote))
	}
}
