package seeds

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strconv"
	"strings"
)

// execSeeds is the Discoverer returned by Exec.
type execSeeds struct {
	name string
	args []string
	cfg  execConfig
}

// Exec returns a Discoverer that runs the command name with args on every
// Discover and reads the peers from its standard output, one address per
// line. It is how a program plugs in whatever knows its peers: a script,
// "aws ec2 describe-instances ...", "consul catalog nodes ...", "dig +short
// ...". It is go-netaddrs' exec= form.
//
// The command is run directly, never through a shell: name is looked up in
// PATH when it holds no '/', and args are passed as they are, so no
// quoting, globbing or expansion happens. Write the shell yourself when you
// want one: Exec("sh", []string{"-c", "getent hosts peers | cut -d' ' -f1"}). It
// inherits the program's environment and working directory, reads
// standard input from /dev/null, and runs in a process group of its own.
//
// Each line of standard output is one address:
//
//	10.0.0.1:7946          host:port
//	10.0.0.2               a host alone, with ExecDefaultPort's port
//	peer-3.internal:7946   a host name, resolved when the Node joins it
//	[fd00::4]:7946         IPv6 in brackets, with a port
//	fd00::5                IPv6 alone (or [fd00::5]), with the default port
//	# a comment            blank lines and '#' comments are skipped
//
// A line holding white space is an error unless ExecColumn picks one
// column of it ("getent hosts" prints "address name aliases"). Duplicates
// are dropped.
//
// A run is bounded: ExecTimeout (default 10s, or Discover's context
// deadline when earlier) and, on standard output, ExecMaxOutput (1 MiB)
// and ExecMaxLines (10,000). Past any of them the command's whole process
// group is killed; so is whatever the command left running in its group
// when it exits. A command that should leave a process behind must start
// it in a session of its own (setsid).
//
// Any failure makes Discover return no address and an error that names
// the command and says what went wrong: its exit status and the first line
// of its standard error (of which 4 KiB are kept), the timeout or the limit
// it passed, or the first bad line of its output, by number and text. A
// non-zero exit status is a failure even when the output looks complete.
// Errors wrap *exec.ExitError, context.DeadlineExceeded (the timeout) and
// Discover's context error, for errors.As and errors.Is.
//
// Validate checks the options and that name can be found (exec.LookPath),
// so that gencluster.Start refuses a missing command; it does not run it.
//
// The spec form is
//
//	exec+COMMAND?arg=ARG&arg=ARG&port=N&timeout=D&column=N&max-output=N&max-lines=N
//
// for example "exec+/usr/local/bin/peers?arg=--region&arg=eu-west-1&port=7946".
// Every arg= is one argument, in order. A spec is split into words on
// white space, so COMMAND and the values are percent-encoded: %20 for a
// space, %26 for '&', %3F for '?', %23 for '#', %25 for '%'. A '+' is a '+'
// (dig's "+short" is written as it is), not a space. Name (logs, metric
// labels) shows the same form, arguments included: pass secrets to the
// command through its environment or a file, not as arguments.
func Exec(name string, args []string, opts ...ExecOption) Discoverer {
	return &execSeeds{name: name, args: append([]string(nil), args...), cfg: newExecConfig(opts)}
}

// Validate checks the options and that the command can be found.
func (e *execSeeds) Validate() error {
	var errs []error
	if e.name == "" {
		errs = append(errs, errors.New("exec: empty command"))
	} else if _, err := exec.LookPath(e.name); err != nil {
		errs = append(errs, fmt.Errorf("exec %s: %w", e.command(), err))
	}
	if err := e.cfg.validate(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// Discover runs the command once and returns the addresses it printed.
func (e *execSeeds) Discover(ctx context.Context) ([]string, error) {
	if err := e.Validate(); err != nil {
		return nil, err
	}
	out, err := e.run(ctx)
	if err != nil {
		return nil, fmt.Errorf("exec %s: %w", e.command(), err)
	}
	addrs, err := parseExecOutput(out, &e.cfg)
	if err != nil {
		return nil, fmt.Errorf("exec %s: output %w", e.command(), err)
	}
	return addrs, nil
}

// command returns the command line for errors: the name and arguments,
// each quoted when it is empty or holds white space or quotes.
func (e *execSeeds) command() string {
	parts := make([]string, 0, 1+len(e.args))
	for _, s := range append([]string{e.name}, e.args...) {
		if s == "" || strings.ContainsAny(s, " \t\r\n\"'\\") || strconv.Quote(s) != `"`+s+`"` {
			s = strconv.Quote(s)
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, " ")
}

// String returns the spec string, options that differ from the defaults
// included.
func (e *execSeeds) String() string {
	var b strings.Builder
	b.WriteString("exec+")
	b.WriteString(EscapeSpec(e.name))
	var q []string
	for _, a := range e.args {
		q = append(q, "arg="+EscapeSpec(a))
	}
	c := &e.cfg
	if c.defaultPort != 0 {
		q = append(q, "port="+strconv.Itoa(c.defaultPort))
	}
	if c.timeout != DefaultExecTimeout {
		q = append(q, "timeout="+c.timeout.String())
	}
	if c.columnSet {
		q = append(q, "column="+strconv.Itoa(c.column))
	}
	if c.maxOutput != DefaultExecMaxOutput {
		q = append(q, "max-output="+strconv.Itoa(c.maxOutput))
	}
	if c.maxLines != DefaultExecMaxLines {
		q = append(q, "max-lines="+strconv.Itoa(c.maxLines))
	}
	if len(q) > 0 {
		b.WriteString("?" + strings.Join(q, "&"))
	}
	return b.String()
}
