package frr

import (
	"errors"
	"regexp"
)

// passwordLine matches the argument of `neighbor X password SECRET` wherever FRR text is
// echoed back to us: frr-reload.py's diff and errors, and `show running-config`. FRR takes
// the rest of the line as the password (it may hold spaces), in any case and with any
// blanks between the words; everything up to the end of the line goes. So does FRR's own
// vty password (`password X`, `enable password X`) should the operator's extra config set it.
var passwordLine = regexp.MustCompile(`(?im)(neighbor[ \t]+\S+[ \t]+password[ \t]+|^[ \t]*(?:enable[ \t]+)?password[ \t]+)[^\r\n]*`)

// Redacted replaces BGP passwords in FRR text.
const Redacted = "<redacted>"

// redact removes BGP passwords from FRR text before it is logged, kept or returned.
func redact(s string) string { return passwordLine.ReplaceAllString(s, "${1}"+Redacted) }

func redactLines(lines []string) []string {
	out := make([]string, len(lines))
	for i, l := range lines {
		out[i] = redact(l)
	}
	return out
}

// redactedError keeps the error chain (errors.Is still sees a deadline) but prints no password.
type redactedError struct{ err error }

func (e redactedError) Error() string { return redact(e.err.Error()) }
func (e redactedError) Unwrap() error { return e.err }

func redactErr(err error) error {
	if err == nil {
		return nil
	}
	var already redactedError
	if errors.As(err, &already) && already.err == err {
		return err
	}
	return redactedError{err}
}

// Redact removes BGP passwords from FRR text that reaches an operator through another
// package: errors of a pass shown by status, for instance.
func Redact(s string) string { return redact(s) }
