package gencluster

import (
	"errors"
	"fmt"
	"strings"
)

// Error text: "gencluster: " is written once, by the exported function
// that returns the error (Start, FromEnv, the Node's methods). What it
// calls (the options, the key and address checks) returns errors without
// it, each layer adding its own context once, so that a message reads
//
//	gencluster: FromEnv: GENCLUSTER_SECRET_KEY: key is 7 bytes, want 16, 24 or 32
//
// and not "gencluster: FromEnv: GENCLUSTER_SECRET_KEY: gencluster: ...".
// Several errors are one error whose every line has that one prefix.

// listError is several errors reported at once, one a line, each with the
// same prefix. errors.Is and errors.As see each of them.
type listError struct {
	prefix string
	errs   []error
}

func (e *listError) Error() string {
	lines := make([]string, len(e.errs))
	for i, err := range e.errs {
		lines[i] = e.prefix + err.Error()
	}
	return strings.Join(lines, "\n")
}

func (e *listError) Unwrap() []error { return e.errs }

// listErrors returns errs, split into their parts (see parts), as one
// error whose lines each start with prefix; nil when there is none.
func listErrors(prefix string, errs ...error) error {
	var all []error
	for _, err := range errs {
		all = append(all, parts(err)...)
	}
	if len(all) == 0 {
		return nil
	}
	return &listError{prefix: prefix, errs: all}
}

// inContext returns err's parts, each prefixed with context ("WithSeeds:
// static+a,b"), so that every line of a joined error says where it comes
// from.
func inContext(context string, err error) []error {
	ps := parts(err)
	for i, p := range ps {
		ps[i] = fmt.Errorf("%s: %w", context, p)
	}
	return ps
}

// parts splits an error made by errors.Join (or any error whose message
// is its wrapped errors' messages, one a line) into those errors,
// recursively; any other error is its only part. nil has none.
func parts(err error) []error {
	if err == nil {
		return nil
	}
	j, ok := err.(interface{ Unwrap() []error })
	if !ok {
		return []error{err}
	}
	inner := j.Unwrap()
	msgs := make([]string, len(inner))
	for i, e := range inner {
		msgs[i] = e.Error()
	}
	if err.Error() != strings.Join(msgs, "\n") {
		return []error{err}
	}
	var out []error
	for _, e := range inner {
		out = append(out, parts(e)...)
	}
	return out
}

// errNilOption is a nil Option among Start's.
var errNilOption = errors.New("nil Option")
