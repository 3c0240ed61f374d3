package snapshot

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestWriteReadAtomic(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "members.snap")
	if _, err := Read(path); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("Read of a missing file: %v, want fs.ErrNotExist", err)
	}
	for range 3 { // replacing an existing file works too
		if err := Write(path, sample()); err != nil {
			t.Fatal(err)
		}
	}
	f, err := Read(path)
	if err != nil || len(f.Members) != 3 {
		t.Fatalf("Read = %+v, %v", f, err)
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(ents) != 1 {
		var names []string
		for _, e := range ents {
			names = append(names, e.Name())
		}
		t.Fatalf("the directory holds %v, want only the snapshot (no temporary files left)", names)
	}
}

func TestWriteErrorsLeaveNothing(t *testing.T) {
	dir := t.TempDir()
	if err := Write(filepath.Join(dir, "missing", "s"), sample()); err == nil || !strings.Contains(err.Error(), "missing") {
		t.Errorf("Write into a missing directory: %v", err)
	}
	bad := File{Members: []Member{{Name: "", Addr: "a:1", State: Alive}}}
	if err := Write(filepath.Join(dir, "s"), bad); err == nil {
		t.Error("Write of an invalid member succeeded")
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Errorf("a failed Write left %d files", len(ents))
	}
}

func TestReadNotRegular(t *testing.T) {
	if _, err := Read(t.TempDir()); err == nil || !strings.Contains(err.Error(), "not a regular file") {
		t.Errorf("Read of a directory: %v", err)
	}
}

func TestCheckWritable(t *testing.T) {
	dir := t.TempDir()
	if err := CheckWritable(filepath.Join(dir, "s")); err != nil {
		t.Errorf("CheckWritable in a temp dir: %v", err)
	}
	if err := CheckWritable(dir); err == nil || !strings.Contains(err.Error(), "directory") {
		t.Errorf("CheckWritable of a directory: %v", err)
	}
	if err := CheckWritable(filepath.Join(dir, "no", "s")); err == nil || !strings.Contains(err.Error(), "cannot create") {
		t.Errorf("CheckWritable in a missing directory: %v", err)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Errorf("CheckWritable left %d files", len(ents))
	}
}
