package seeds

import (
	"errors"
	"fmt"
	"time"
)

// Defaults of Exec's options.
const (
	// DefaultExecTimeout bounds one run of the command when ExecTimeout is
	// not given. Discover's context deadline, when earlier, wins.
	DefaultExecTimeout = 10 * time.Second
	// DefaultExecMaxOutput is how many bytes of standard output a run may
	// print when ExecMaxOutput is not given (1 MiB).
	DefaultExecMaxOutput = 1 << 20
	// DefaultExecMaxLines is how many lines of standard output a run may
	// print when ExecMaxLines is not given.
	DefaultExecMaxLines = 10000
)

// ExecOption configures Exec.
type ExecOption func(*execConfig)

type execConfig struct {
	timeout     time.Duration
	defaultPort int // 0: every line must give its port
	column      int // 0: the whole line is the address
	columnSet   bool
	maxOutput   int
	maxLines    int
}

// ExecTimeout bounds each run of the command to d (default
// DefaultExecTimeout). When it passes, the command and every process in its
// process group are killed and Discover returns an error saying so.
func ExecTimeout(d time.Duration) ExecOption { return func(c *execConfig) { c.timeout = d } }

// ExecDefaultPort is the port of the lines that give only a host ("10.0.0.1",
// "[fd00::1]", "peer-1.internal"). Without it such a line is an error.
func ExecDefaultPort(port int) ExecOption { return func(c *execConfig) { c.defaultPort = port } }

// ExecColumn takes the address from the n-th (1-based) white-space
// separated column of each line instead of the whole line, for commands
// that print more than the address: "getent hosts name" prints
// "10.0.0.1  name aliases...", so column 1. Without it a line holding white
// space is an error, so that a command printing several addresses on one
// line (aws --output text does) is not half read.
func ExecColumn(n int) ExecOption {
	return func(c *execConfig) { c.column, c.columnSet = n, true }
}

// ExecMaxOutput bounds the command's standard output to n bytes (default
// DefaultExecMaxOutput). A command that prints more is killed and Discover
// returns an error naming the limit; nothing it printed is used.
func ExecMaxOutput(n int) ExecOption { return func(c *execConfig) { c.maxOutput = n } }

// ExecMaxLines bounds the command's standard output to n lines, comments
// and blank lines included (default DefaultExecMaxLines). A command that
// prints more is killed and Discover returns an error naming the limit.
func ExecMaxLines(n int) ExecOption { return func(c *execConfig) { c.maxLines = n } }

func newExecConfig(opts []ExecOption) execConfig {
	c := execConfig{timeout: DefaultExecTimeout, maxOutput: DefaultExecMaxOutput, maxLines: DefaultExecMaxLines}
	for _, o := range opts {
		if o != nil {
			o(&c)
		}
	}
	return c
}

func (c *execConfig) validate() error {
	var errs []error
	if c.timeout <= 0 {
		errs = append(errs, fmt.Errorf("exec timeout %v: want more than 0", c.timeout))
	}
	if c.defaultPort != 0 && (c.defaultPort < 1 || c.defaultPort > 65535) {
		errs = append(errs, fmt.Errorf("exec default port %d: want a number from 1 to 65535", c.defaultPort))
	}
	if c.columnSet && c.column < 1 {
		errs = append(errs, fmt.Errorf("exec column %d: want 1 or more", c.column))
	}
	if c.maxOutput <= 0 {
		errs = append(errs, fmt.Errorf("exec max output %d bytes: want more than 0", c.maxOutput))
	}
	if c.maxLines <= 0 {
		errs = append(errs, fmt.Errorf("exec max lines %d: want more than 0", c.maxLines))
	}
	return errors.Join(errs...)
}
