// Package testlog owns the log sink tests and the bench harnesses share: a buffer that a logger or a
// child process's output goroutine writes while the test reads it.
package testlog

import (
	"bytes"
	"sync"
)

// Buffer is a bytes.Buffer safe for concurrent writers and readers.
type Buffer struct {
	// Max, when above 0, keeps only the first Max bytes written (a chatty child cannot fill memory);
	// writes past it are dropped and still reported as written.
	Max int

	mu sync.Mutex
	b  bytes.Buffer
}

// Write implements io.Writer.
func (s *Buffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.Max > 0 {
		if room := s.Max - s.b.Len(); room > 0 {
			s.b.Write(p[:min(len(p), room)])
		}
		return len(p), nil
	}
	return s.b.Write(p)
}

// String returns everything written so far.
func (s *Buffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
