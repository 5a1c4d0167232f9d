package config

import (
	"errors"
	"fmt"
	"os"
	"strings"
)

// The files a configuration names are read when it is validated, so that a file that
// start-up, check-config or a reload would refuse is refused by all three, and again by the
// FRR renderer on every pass, so that a rotated password or an edited extra config is picked
// up. Both go through these functions: one set of rules.

// ReadPassword returns the first line of a peer's password file. Its errors name the file,
// never its content.
func ReadPassword(file string) (string, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return "", fmt.Errorf("%w; make the file readable by the agent", err) // *PathError: path and reason
	}
	pw, _, _ := strings.Cut(string(b), "\n")
	pw = strings.TrimRight(pw, "\r")
	switch {
	case pw == "":
		return "", fmt.Errorf("%s: the first line is empty; write the password on it", file)
	case len(pw) > 80 || strings.ContainsFunc(pw, func(r rune) bool { return r <= ' ' || r > '~' }):
		return "", fmt.Errorf("%s: the password must be 1..80 printable ASCII characters without spaces", file)
	}
	return pw, nil
}

// ReadExtraConfig returns the operator's FRR text to append to the rendered configuration.
func ReadExtraConfig(file string) (string, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return "", fmt.Errorf("%w; make the file readable by the agent, or set frr.extra_config to \"\"", err)
	}
	if strings.ContainsRune(string(b), 0) {
		return "", errors.New(file + ": must be FRR configuration text, found a NUL byte")
	}
	return string(b), nil
}
