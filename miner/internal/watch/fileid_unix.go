//go:build unix

package watch

import (
	"os"
	"strconv"
	"syscall"
)

// fileID is the file's device and inode: a file renamed into place has a
// new one even when its size and modification time match the old file's.
func fileID(fi os.FileInfo) string {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return "-"
	}
	return strconv.FormatUint(uint64(st.Dev), 10) + ":" + strconv.FormatUint(uint64(st.Ino), 10)
}
