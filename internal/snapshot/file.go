package snapshot

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// Read reads and decodes the snapshot at path. A missing file is an
// error satisfying errors.Is(err, fs.ErrNotExist); the others are those of
// Decode, or the error that stopped the read.
func Read(path string) (File, error) {
	fh, err := os.Open(path)
	if err != nil {
		return File{}, err
	}
	defer fh.Close()
	st, err := fh.Stat()
	if err != nil {
		return File{}, err
	}
	if !st.Mode().IsRegular() {
		return File{}, fmt.Errorf("snapshot %s: not a regular file (%v)", path, st.Mode().Type())
	}
	// One byte more than the limit, so that Decode sees an oversized file.
	b, err := io.ReadAll(io.LimitReader(fh, MaxFileSize+1))
	if err != nil {
		return File{}, fmt.Errorf("snapshot %s: %w", path, err)
	}
	return Decode(b)
}

// Write replaces the snapshot at path with f atomically: it writes a
// temporary file in the same directory, syncs it, renames it over path
// and syncs the directory, so that after a crash or power cut path holds
// either the old snapshot or the new one, never a mix.
func Write(path string, f File) error {
	b, err := Encode(f)
	if err != nil {
		return err
	}
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	tmp, err := os.CreateTemp(dir, "."+base+".tmp-*")
	if err != nil {
		return fmt.Errorf("snapshot %s: %w", path, err)
	}
	done := false
	defer func() {
		if !done {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if _, err := tmp.Write(b); err != nil {
		return fmt.Errorf("snapshot %s: writing %s: %w", path, tmp.Name(), err)
	}
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("snapshot %s: syncing %s: %w", path, tmp.Name(), err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("snapshot %s: closing %s: %w", path, tmp.Name(), err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		os.Remove(tmp.Name())
		done = true
		return fmt.Errorf("snapshot %s: %w", path, err)
	}
	done = true
	return syncDir(dir)
}

// syncDir makes a rename in dir durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("snapshot: syncing directory %s: %w", dir, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil && !errors.Is(err, errors.ErrUnsupported) {
		return fmt.Errorf("snapshot: syncing directory %s: %w", dir, err)
	}
	return nil
}

// CheckWritable reports, with an error naming the path, whether a
// snapshot can be written at path: its directory exists and takes a new
// file, and path is not a directory.
func CheckWritable(path string) error {
	dir, base := filepath.Split(path)
	if base == "" {
		return fmt.Errorf("snapshot %q: the path names a directory, want a file", path)
	}
	if dir == "" {
		dir = "."
	}
	if st, err := os.Stat(path); err == nil && st.IsDir() {
		return fmt.Errorf("snapshot %s: is a directory, want a file", path)
	}
	tmp, err := os.CreateTemp(dir, "."+base+".probe-*")
	if err != nil {
		return fmt.Errorf("snapshot %s: cannot create files in %s: %w", path, dir, err)
	}
	tmp.Close()
	return os.Remove(tmp.Name())
}
