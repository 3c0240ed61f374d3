// Package snapshot keeps a file of the cluster's members, so that a node
// restarted after a full outage (every node down, discovery empty or
// unreachable) can rejoin the members it knew, as serf's snapshot does.
//
// The file is line-oriented text, small and readable with cat:
//
//	gencluster-snapshot 1
//	cluster "prod"
//	member "api-1" 10.0.0.5:7946 alive 1764680000
//	member "api-2" 10.0.0.6:7946 failed 1764680042
//	end 2 5d1c07a3
//
// The first line names the format and its version. The cluster line is
// the node's WithLabel label ("" without one), quoted as Go quotes
// strings. Each member line has a quoted name, a host:port, the state
// (alive, or failed: declared failed but not seen leaving) and the Unix
// time of that state. The end line repeats the member count and carries
// the CRC-32 (IEEE) of every byte before it, so a truncated or damaged
// file is told apart from a valid one.
package snapshot

import (
	"bytes"
	"errors"
	"fmt"
	"hash/crc32"
	"net"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Version is the format version Encode writes and Decode reads.
const Version = 1

// Limits that bound what Decode accepts.
const (
	// MaxFileSize is the largest snapshot Decode reads (about 20000
	// members of long names).
	MaxFileSize = 4 << 20
	// MaxMembers is the most member lines Decode accepts.
	MaxMembers = 100000
	// MaxNameLen is the longest member name, as gencluster.WithName.
	MaxNameLen = 128
)

const magic = "gencluster-snapshot"

// State is a member's state in the snapshot.
type State uint8

// The states a snapshot records. A member seen leaving is not recorded.
const (
	Alive State = iota + 1
	Failed
)

func (s State) String() string {
	switch s {
	case Alive:
		return "alive"
	case Failed:
		return "failed"
	}
	return "state(" + strconv.Itoa(int(s)) + ")"
}

// Member is one member line.
type Member struct {
	Name  string
	Addr  string // host:port
	State State
	Since time.Time // when it entered State, to the second
}

// File is a decoded snapshot.
type File struct {
	Cluster string // the cluster label, "" for none
	Members []Member
}

// ErrNotSnapshot is returned by Decode for a file that does not start
// like a snapshot: the path names some other file.
var ErrNotSnapshot = errors.New("not a gencluster snapshot (the first line is not \"gencluster-snapshot <version>\")")

// VersionError is returned by Decode for a snapshot of another format
// version, such as one written by a newer gencluster.
type VersionError struct{ Version string }

func (e *VersionError) Error() string {
	return fmt.Sprintf("snapshot format version %q, this gencluster reads version %d", e.Version, Version)
}

// CorruptError is returned by Decode for a snapshot that is truncated,
// damaged or malformed. Line is the 1-based line at fault (0: the file as
// a whole).
type CorruptError struct {
	Line   int
	Reason string
}

func (e *CorruptError) Error() string {
	if e.Line == 0 {
		return "corrupt snapshot: " + e.Reason
	}
	return fmt.Sprintf("corrupt snapshot: line %d: %s", e.Line, e.Reason)
}

// Encode renders f. Members are written sorted by name. It returns an
// error, naming the member, for a name or address that Decode would
// refuse, so that a written file always reads back.
func Encode(f File) ([]byte, error) {
	ms := slices.Clone(f.Members)
	slices.SortFunc(ms, func(a, b Member) int { return strings.Compare(a.Name, b.Name) })
	var b bytes.Buffer
	fmt.Fprintf(&b, "%s %d\n", magic, Version)
	fmt.Fprintf(&b, "cluster %s\n", strconv.Quote(f.Cluster))
	for i, m := range ms {
		if err := checkName(m.Name); err != nil {
			return nil, err
		}
		if i > 0 && ms[i-1].Name == m.Name {
			return nil, fmt.Errorf("snapshot: member %q listed twice", m.Name)
		}
		if err := checkAddr(m.Addr); err != nil {
			return nil, fmt.Errorf("snapshot: member %q: %w", m.Name, err)
		}
		if m.State != Alive && m.State != Failed {
			return nil, fmt.Errorf("snapshot: member %q: invalid %v", m.Name, m.State)
		}
		fmt.Fprintf(&b, "member %s %s %s %d\n", strconv.Quote(m.Name), m.Addr, m.State, m.Since.Unix())
	}
	b.WriteString(endLine(b.String(), len(ms)))
	return b.Bytes(), nil
}

// Decode parses a snapshot. Its errors are ErrNotSnapshot, a
// *VersionError or a *CorruptError; it never panics, whatever b holds.
func Decode(b []byte) (File, error) {
	var f File
	if len(b) > MaxFileSize {
		return f, &CorruptError{Reason: fmt.Sprintf("%d bytes, more than the %d a snapshot may have", len(b), MaxFileSize)}
	}
	first, _, _ := bytes.Cut(b, []byte("\n"))
	word, ver, _ := strings.Cut(string(first), " ")
	if word != magic {
		return f, ErrNotSnapshot
	}
	if ver != strconv.Itoa(Version) {
		return f, &VersionError{Version: ver}
	}
	if len(b) == 0 || b[len(b)-1] != '\n' {
		return f, &CorruptError{Reason: "truncated: the last line is incomplete"}
	}
	lines := strings.Split(string(b[:len(b)-1]), "\n")
	n := len(lines)
	if n < 3 {
		return f, &CorruptError{Reason: "truncated: no end line"}
	}
	// The end line first: a damaged file is reported as such, not by
	// whatever the damage made of a member line.
	endLine := lines[n-1]
	var count int
	var sum uint32
	if _, err := fmt.Sscanf(endLine, "end %d %08x", &count, &sum); err != nil || fmt.Sprintf("end %d %08x", count, sum) != endLine {
		return f, &CorruptError{Line: n, Reason: "truncated or damaged: the last line is not \"end <count> <crc32>\""}
	}
	if got := crc32.ChecksumIEEE(b[:len(b)-len(endLine)-1]); got != sum {
		return f, &CorruptError{Line: n, Reason: fmt.Sprintf("checksum %08x, the end line says %08x (the file was damaged)", got, sum)}
	}
	if count != n-3 {
		return f, &CorruptError{Line: n, Reason: fmt.Sprintf("end line counts %d members, the file has %d member lines", count, n-3)}
	}
	if count > MaxMembers {
		return f, &CorruptError{Line: n, Reason: fmt.Sprintf("%d members, more than %d", count, MaxMembers)}
	}
	rest, ok := strings.CutPrefix(lines[1], "cluster ")
	if !ok {
		return f, &CorruptError{Line: 2, Reason: "want cluster \"<label>\""}
	}
	cluster, err := strconv.Unquote(rest)
	if err != nil || strconv.Quote(cluster) != rest {
		return f, &CorruptError{Line: 2, Reason: fmt.Sprintf("cluster label %s is not a quoted string", rest)}
	}
	f.Cluster = cluster
	seen := make(map[string]bool, count)
	for i, line := range lines[2 : n-1] {
		m, err := decodeMember(line)
		if err != nil {
			return File{}, &CorruptError{Line: i + 3, Reason: err.Error()}
		}
		if seen[m.Name] {
			return File{}, &CorruptError{Line: i + 3, Reason: fmt.Sprintf("member %q listed twice", m.Name)}
		}
		seen[m.Name] = true
		f.Members = append(f.Members, m)
	}
	return f, nil
}

// decodeMember parses `member "name" host:port state unix`.
func decodeMember(line string) (Member, error) {
	var m Member
	rest, ok := strings.CutPrefix(line, "member ")
	if !ok {
		return m, errors.New("want member \"<name>\" <host:port> <state> <unix time>")
	}
	// The name is quoted and may hold spaces; it ends at the closing quote.
	end := quotedEnd(rest)
	if end < 0 {
		return m, errors.New("member name is not a quoted string")
	}
	name, err := strconv.Unquote(rest[:end])
	if err != nil || strconv.Quote(name) != rest[:end] {
		return m, errors.New("member name is not a quoted string")
	}
	if err := checkName(name); err != nil {
		return m, err
	}
	fields := strings.Split(rest[end:], " ")
	if len(fields) != 4 || fields[0] != "" {
		return m, fmt.Errorf("member %q: want <host:port> <state> <unix time> after the name", name)
	}
	if err := checkAddr(fields[1]); err != nil {
		return m, fmt.Errorf("member %q: %w", name, err)
	}
	switch fields[2] {
	case "alive":
		m.State = Alive
	case "failed":
		m.State = Failed
	default:
		return m, fmt.Errorf("member %q: state %q, want alive or failed", name, fields[2])
	}
	ts, err := strconv.ParseInt(fields[3], 10, 64)
	if err != nil || ts < 0 || strconv.FormatInt(ts, 10) != fields[3] {
		return m, fmt.Errorf("member %q: time %q is not a Unix time", name, fields[3])
	}
	m.Name, m.Addr, m.Since = name, fields[1], time.Unix(ts, 0)
	return m, nil
}

// quotedEnd returns the index just past the Go-quoted string s starts
// with, or -1.
func quotedEnd(s string) int {
	if len(s) < 2 || s[0] != '"' {
		return -1
	}
	for i := 1; i < len(s); i++ {
		switch s[i] {
		case '\\':
			i++
		case '"':
			return i + 1
		}
	}
	return -1
}

func checkName(name string) error {
	if name == "" || len(name) > MaxNameLen || strings.ContainsFunc(name, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		return fmt.Errorf("member name %q: want 1 to %d printable characters", name, MaxNameLen)
	}
	return nil
}

func checkAddr(addr string) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("address %q: want host:port", addr)
	}
	if host == "" || strings.ContainsAny(host, " \t\r\n\"/") {
		return fmt.Errorf("address %q: invalid host", addr)
	}
	p, err := strconv.Atoi(port)
	if err != nil || p < 1 || p > 65535 || strconv.Itoa(p) != port {
		return fmt.Errorf("address %q: port %q is not 1 to 65535", addr, port)
	}
	return nil
}

// endLine returns the end line sealing body (every byte before it) with
// count members.
func endLine(body string, count int) string {
	return fmt.Sprintf("end %d %08x\n", count, crc32.ChecksumIEEE([]byte(body)))
}
