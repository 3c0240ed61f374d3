package seeds

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"

	"github.com/gencluster/gencluster/seeds/internal/backendkit"
)

// seedFile is the Discoverer returned by File. It is safe for
// concurrent use.
type seedFile struct {
	path string

	mu   sync.Mutex
	last []string // the last list read without error; nil before the first
	good bool     // last holds a good read
}

// File returns a Discoverer that reads peer addresses from the file at path,
// one host:port per line. Blank lines are skipped, and '#' starts a comment
// that runs to the end of the line:
//
//	# seeds for the eu-west cluster
//	10.0.0.1:7946
//	10.0.0.2:7946   # rack 2
//	[fd00::3]:7946
//
// The file is read again on every Discover, so an operator, a deploy tool or
// a Kubernetes ConfigMap mount can change the peers without restarting the
// program. Replace the file atomically (write a temporary file and rename
// it) where you can.
//
// A file that cannot be read or that holds a malformed line does not wipe the
// peers: Discover returns the last list it read successfully together with
// an error that names the file, and for a bad line its number and text. A
// zero-byte file, which is what a writer that truncates before it writes
// leaves behind, is treated the same way once a good list has been read; to
// clear the list on purpose, leave a comment line in the file.
//
// Validate reads the file once, so gencluster.Start refuses a missing or
// malformed file. The spec form is "file+/path/to/seeds".
func File(path string) Discoverer {
	return &seedFile{path: path}
}

// Discover reads the file and returns its addresses. On an error it returns
// the last good list, if any, with the error.
func (f *seedFile) Discover(ctx context.Context) ([]string, error) {
	addrs, empty, err := f.read()
	f.mu.Lock()
	defer f.mu.Unlock()
	if err != nil {
		return append([]string(nil), f.last...), err
	}
	if !empty {
		f.last, f.good = addrs, true
	}
	return append([]string(nil), addrs...), nil
}

// Validate reads and parses the file once.
func (f *seedFile) Validate() error {
	if f.path == "" {
		return errors.New("seed file: empty path")
	}
	_, _, err := f.read()
	if errors.Is(err, errEmptyFile) {
		return nil
	}
	return err
}

// String returns "file+path".
func (f *seedFile) String() string { return "file+" + f.path }

var errEmptyFile = errors.New("file is empty (being written?); keeping the last good list")

// read reads and parses the whole file. empty reports a zero-byte file.
func (f *seedFile) read() (addrs []string, empty bool, err error) {
	if f.path == "" {
		return nil, false, errors.New("seed file: empty path")
	}
	data, err := os.ReadFile(f.path)
	if err != nil {
		return nil, false, fmt.Errorf("seed file: %w", err)
	}
	if len(data) == 0 {
		f.mu.Lock()
		good := f.good
		f.mu.Unlock()
		if good {
			return nil, true, fmt.Errorf("seed file %s: %w", f.path, errEmptyFile)
		}
		return nil, true, nil
	}
	addrs, err = parseFileLines(data)
	if err != nil {
		return nil, false, fmt.Errorf("seed file %s: %w", f.path, err)
	}
	return addrs, false, nil
}

// maxBadText bounds how much of a bad line an error quotes.
const maxBadText = 80

// parseFileLines parses the seed-file format: one host:port per line, '#'
// comments, blank lines. Duplicates are dropped. The first bad line is an
// error naming its 1-based number and its text.
func parseFileLines(data []byte) ([]string, error) {
	return parseAddrLines(data, func(text string) (string, error) {
		return text, backendkit.CheckAddr(text)
	})
}

// parseAddrLines reads one address per line, as the seed file and the
// Exec backend's output have them: '#' comments and blank lines are
// skipped, toAddr turns what is left of a line into host:port, and
// duplicates are dropped. The first bad line is an error naming its
// 1-based number and its text.
func parseAddrLines(data []byte, toAddr func(text string) (string, error)) ([]string, error) {
	var (
		out  []string
		seen = make(map[string]bool)
	)
	for i, line := range bytes.Split(data, []byte("\n")) {
		text := string(line)
		if j := strings.IndexByte(text, '#'); j >= 0 {
			text = text[:j]
		}
		text = strings.TrimSpace(text)
		if text == "" {
			continue
		}
		addr, err := toAddr(text)
		if err != nil {
			raw := strings.TrimRight(string(line), "\r")
			if len(raw) > maxBadText {
				raw = raw[:maxBadText] + "..."
			}
			return nil, fmt.Errorf("line %d: %q: %w", i+1, raw, err)
		}
		if !seen[addr] {
			seen[addr] = true
			out = append(out, addr)
		}
	}
	return out, nil
}

// parseFile reads "/path".
func parseFile(text string) (Discoverer, error) {
	return File(text), nil
}
