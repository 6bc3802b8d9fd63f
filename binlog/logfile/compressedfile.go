package logfile

import (
	"compress/gzip"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/klauspost/compress/zstd"
)

// Binlog files archived compressed (mysql-bin.000042.gz, .zst) are read
// directly, decompressed as they stream. Their name in positions and
// checkpoints is the binlog's own, without the suffix (mysql-bin.000042),
// so that positions match the server's and a replay can resume on the
// uncompressed file, or the other way round.

// compressedSuffixes are the file name suffixes of compressed binlogs.
var compressedSuffixes = []string{".gz", ".zst"}

// Name returns the binlog's name for path: its base name, without a
// compression suffix.
func Name(path string) string {
	name := filepath.Base(path)
	for _, s := range compressedSuffixes {
		if strings.HasSuffix(name, s) && len(name) > len(s) {
			return strings.TrimSuffix(name, s)
		}
	}
	return name
}

// Compressed reports whether path names a compressed binlog (.gz, .zst).
func Compressed(path string) bool { return Name(path) != filepath.Base(path) }

// openStream opens path for reading, decompressing it if its name says it
// is compressed. size is the file's size on disk.
func openStream(path string) (r io.ReadCloser, size int64, err error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, 0, err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, 0, err
	}
	switch {
	case strings.HasSuffix(path, ".gz"):
		zr, err := gzip.NewReader(f)
		if err != nil {
			f.Close()
			return nil, 0, fmt.Errorf("gzip: %w", err)
		}
		return &stream{Reader: zr, close: func() error { zr.Close(); return f.Close() }}, st.Size(), nil
	case strings.HasSuffix(path, ".zst"):
		zr, err := zstd.NewReader(f, zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxMemory(1<<30))
		if err != nil {
			f.Close()
			return nil, 0, fmt.Errorf("zstd: %w", err)
		}
		return &stream{Reader: zr, close: func() error { zr.Close(); return f.Close() }}, st.Size(), nil
	}
	return f, st.Size(), nil
}

// stream is a decompressing reader that closes the file under it.
type stream struct {
	io.Reader
	close func() error
}

func (s *stream) Close() error { return s.close() }
