package fence

import (
	"io/fs"
	"os"
	"syscall"
)

// hostFiles is the host file system rooted at "/" as the loader reads it:
// os.DirFS("/"), except that Open never blocks on a FIFO (O_NONBLOCK), so a
// path swapped for a FIFO between the loader's Stat and Open is refused by
// its check of the open file instead of hanging fence.
type hostFiles struct{}

var _ fs.StatFS = hostFiles{}

func (hostFiles) path(op, name string) (string, error) {
	if !fs.ValidPath(name) {
		return "", &fs.PathError{Op: op, Path: name, Err: fs.ErrInvalid}
	}
	if name == "." {
		return "/", nil
	}
	return "/" + name, nil
}

func (h hostFiles) Open(name string) (fs.File, error) {
	p, err := h.path("open", name)
	if err != nil {
		return nil, err
	}
	return os.OpenFile(p, os.O_RDONLY|syscall.O_NONBLOCK, 0)
}

func (h hostFiles) Stat(name string) (fs.FileInfo, error) {
	p, err := h.path("stat", name)
	if err != nil {
		return nil, err
	}
	return os.Stat(p)
}
