package wallet

import (
	"fmt"
	"os"
	"path/filepath"
)

// File and folder modes for everything this package creates.
const (
	fileMode = 0o600
	dirMode  = 0o700
)

// writeFileAtomic writes data to path through a temporary file in the same
// folder: write, fsync, chmod 0600, rename, then fsync the folder. A reader
// sees the old file or the new one, never a part. The folder is created with
// mode 0700 if needed. When overwrite is false an existing path is refused
// with ErrExists.
func writeFileAtomic(path string, data []byte, overwrite bool) (err error) {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, dirMode); err != nil {
		return fmt.Errorf("create folder: %w", err)
	}
	if !overwrite {
		if _, err := os.Lstat(path); err == nil {
			return fmt.Errorf("%s: %w", path, ErrExists)
		}
	}
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("create temporary file: %w", err)
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			_ = f.Close()
			_ = os.Remove(tmp)
		}
	}()
	if err := f.Chmod(fileMode); err != nil {
		return fmt.Errorf("chmod %s: %w", tmp, err)
	}
	if _, err := f.Write(data); err != nil {
		return fmt.Errorf("write %s: %w", tmp, err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", tmp, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("close %s: %w", tmp, err)
	}
	if !overwrite {
		// Link fails if path appeared meanwhile, where rename would replace it.
		// Where the file system has no hard links, fall back to rename.
		switch err := os.Link(tmp, path); {
		case os.IsExist(err):
			return fmt.Errorf("%s: %w", path, ErrExists)
		case err == nil:
			if err := os.Remove(tmp); err != nil {
				return fmt.Errorf("remove %s: %w", tmp, err)
			}
		default:
			if err := os.Rename(tmp, path); err != nil {
				return fmt.Errorf("rename to %s: %w", path, err)
			}
		}
	} else if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("rename to %s: %w", path, err)
	}
	if d, err := os.Open(dir); err == nil {
		syncErr := d.Sync()
		_ = d.Close()
		if syncErr != nil {
			return fmt.Errorf("sync folder %s: %w", dir, syncErr)
		}
	}
	return nil
}
