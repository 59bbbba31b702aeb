// Package ident owns the identifier rule of Wayside's names that travel in topics and batches: the
// gateway id, key ids (a gateway's signing keys, a city's sealing keys) and sensor names. The gateway's
// configuration, the command verifier, the city's batch opener and the reference ingest all check it
// here, so a name one accepts the others accept too.
package ident

// MaxLen is the longest identifier, in bytes (all its characters are ASCII).
const MaxLen = 64

// Valid reports whether s is an identifier: 1 to 64 ASCII letters, digits, '_', '.' or '-', starting
// with a letter or digit (^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$). A plain check, not a package-level
// regular expression: compiled, those stayed on the heap for the life of the process (#22).
func Valid(s string) bool {
	if s == "" || len(s) > MaxLen || !alnum(s[0]) {
		return false
	}
	for i := 1; i < len(s); i++ {
		if c := s[i]; !alnum(c) && c != '_' && c != '.' && c != '-' {
			return false
		}
	}
	return true
}

func alnum(c byte) bool { return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' }
