package seeds

import (
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/gencluster/gencluster/seeds/internal/backendkit"
)

// parseExecOutput reads the command's standard output: one address per
// line (or in cfg.column), '#' comments, blank lines. The first bad line is
// an error naming its 1-based number and its text.
func parseExecOutput(data []byte, cfg *execConfig) ([]string, error) {
	return parseAddrLines(data, func(text string) (string, error) {
		return execLineAddr(text, cfg)
	})
}

// execLineAddr turns one line (comment and outer white space removed) into
// host:port.
func execLineAddr(text string, cfg *execConfig) (string, error) {
	fields := strings.Fields(text)
	switch {
	case cfg.column > 0:
		if len(fields) < cfg.column {
			return "", fmt.Errorf("%d column(s), want column %d", len(fields), cfg.column)
		}
		text = fields[cfg.column-1]
	case len(fields) > 1:
		return "", fmt.Errorf("more than one word: want one address per line (ExecColumn, column= in the spec, picks one column)")
	}
	addr, err := HostPort(text, cfg.defaultPort)
	if errors.Is(err, errNoPort) {
		return "", fmt.Errorf("%w (ExecDefaultPort, port= in the spec)", err)
	}
	return addr, err
}

// EscapeSpec percent-encodes what a spec word cannot hold as it is: white
// space and control bytes, '%', and the '?', '&', '=' and '#' of the
// option syntax. Everything else, '/' and '+' included, stays. Backends
// that register a scheme of their own (contrib/godiscover) write their
// specs with it, as Exec does.
func EscapeSpec(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c >= 0x7f || strings.IndexByte("%?&=#", c) >= 0 {
			fmt.Fprintf(&b, "%%%02X", c)
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}

// parseExec reads "COMMAND?arg=A&arg=B&port=N&timeout=D&column=N&max-output=N&max-lines=N".
func parseExec(text string) (Discoverer, error) {
	cmdText, query, hasQuery := strings.Cut(text, "?")
	name, err := url.PathUnescape(cmdText)
	if err != nil {
		return nil, fmt.Errorf("exec %q: command %q: %w", text, cmdText, err)
	}
	if name == "" {
		return nil, fmt.Errorf("exec %q: empty command", text)
	}
	var (
		args []string
		opts []ExecOption
		seen = make(map[string]bool)
	)
	if hasQuery {
		for _, kv := range strings.Split(query, "&") {
			key, raw, ok := strings.Cut(kv, "=")
			if !ok {
				return nil, fmt.Errorf("exec %q: option %q: want key=value", text, kv)
			}
			val, err := url.PathUnescape(raw)
			if err != nil {
				return nil, fmt.Errorf("exec %q: option %s=%s: %w", text, key, raw, err)
			}
			if key != "arg" {
				if seen[key] {
					return nil, fmt.Errorf("exec %q: option %s given twice", text, key)
				}
				seen[key] = true
			}
			o, err := execSpecOption(key, val)
			if err != nil {
				return nil, fmt.Errorf("exec %q: %w", text, err)
			}
			if key == "arg" {
				args = append(args, val)
			} else {
				opts = append(opts, o)
			}
		}
	}
	return Exec(name, args, opts...), nil
}

// execSpecOption reads one key=value of an exec spec; "arg" returns no
// option (the caller keeps the argument).
func execSpecOption(key, val string) (ExecOption, error) {
	atoi := func() (int, error) {
		n, err := strconv.Atoi(val)
		if err != nil {
			return 0, fmt.Errorf("option %s=%s: want a number", key, val)
		}
		return n, nil
	}
	switch key {
	case "arg":
		return nil, nil
	case "port":
		p, err := backendkit.ParsePort(val)
		if err != nil {
			return nil, fmt.Errorf("option port: %w", err)
		}
		return ExecDefaultPort(p), nil
	case "timeout":
		d, err := time.ParseDuration(val)
		if err != nil {
			return nil, fmt.Errorf("option timeout: %w", err)
		}
		return ExecTimeout(d), nil
	case "column", "max-output", "max-lines":
		n, err := atoi()
		if err != nil {
			return nil, err
		}
		switch key {
		case "column":
			return ExecColumn(n), nil
		case "max-output":
			return ExecMaxOutput(n), nil
		}
		return ExecMaxLines(n), nil
	}
	return nil, fmt.Errorf("unknown option %q (known: arg, port, timeout, column, max-output, max-lines)", key)
}
