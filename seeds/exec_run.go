package seeds

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"time"
)

// execWaitDelay bounds how long a run waits, once the command has exited
// or been killed, for its output pipes to close: a process that left the
// command's process group (setsid) may hold them open for ever.
const execWaitDelay = time.Second

// execStderrKeep is how much of the command's standard error is kept.
const execStderrKeep = 4 << 10

// errOutputLimit is what the output writer returns once a limit is passed.
var errOutputLimit = errors.New("output limit passed")

// run runs the command once and returns its standard output.
func (e *execSeeds) run(parent context.Context) ([]byte, error) {
	ctx, cancel := context.WithTimeout(parent, e.cfg.timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, e.name, e.args...)
	stdout := &execStdout{maxBytes: e.cfg.maxOutput, maxLines: e.cfg.maxLines, over: cancel}
	stderr := &execStderr{}
	cmd.Stdout, cmd.Stderr = stdout, stderr
	cmd.WaitDelay = execWaitDelay
	setProcessGroup(cmd)
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	err := cmd.Wait()
	// Whatever the command started in its group and left running goes
	// with it (on Unix; see killGroup).
	killGroup(cmd)
	switch {
	case stdout.limit != "":
		return nil, fmt.Errorf("output passed %s; the command was killed", stdout.limit)
	case parent.Err() != nil:
		return nil, fmt.Errorf("stopped by Discover's context: %w", parent.Err())
	case ctx.Err() != nil:
		return nil, fmt.Errorf("timed out after %v and was killed%s: %w", e.cfg.timeout, stderr.firstLine(), ctx.Err())
	case errors.Is(err, exec.ErrWaitDelay):
		return nil, fmt.Errorf("exited, but a process it started kept its output open (now killed): %w", err)
	case err != nil:
		return nil, fmt.Errorf("%w%s", err, stderr.firstLine())
	}
	return stdout.buf.Bytes(), nil
}

// execStdout keeps the command's standard output up to the limits; past
// one it records which and calls over, which ends the run's context and so
// kills the command.
type execStdout struct {
	maxBytes, maxLines int
	over               func()
	buf                bytes.Buffer
	lines              int
	limit              string // the limit passed, "" while within
}

func (w *execStdout) Write(p []byte) (int, error) {
	if w.limit != "" {
		return 0, errOutputLimit
	}
	w.lines += bytes.Count(p, []byte("\n"))
	switch {
	case w.buf.Len()+len(p) > w.maxBytes:
		w.limit = fmt.Sprintf("%d bytes (ExecMaxOutput, max-output=)", w.maxBytes)
	case w.lines > w.maxLines:
		w.limit = fmt.Sprintf("%d lines (ExecMaxLines, max-lines=)", w.maxLines)
	}
	if w.limit != "" {
		w.over()
		return 0, errOutputLimit
	}
	return w.buf.Write(p)
}

// execStderr keeps the first execStderrKeep bytes of standard error and
// drops the rest without failing the write, so that a chatty command is
// not stopped by a broken pipe.
type execStderr struct{ buf bytes.Buffer }

func (w *execStderr) Write(p []byte) (int, error) {
	if room := execStderrKeep - w.buf.Len(); room > 0 {
		w.buf.Write(p[:min(room, len(p))])
	}
	return len(p), nil
}

// firstLine returns `: stderr "first non-blank line"`, or "" when
// standard error was empty.
func (w *execStderr) firstLine() string {
	for _, line := range strings.Split(w.buf.String(), "\n") {
		if line = strings.TrimSpace(line); line != "" {
			if len(line) > 200 {
				line = line[:200] + "..."
			}
			return fmt.Sprintf(" (stderr: %q)", line)
		}
	}
	return ""
}
