package lab

import (
	"context"
	"fmt"
)

// AddNetns creates a network namespace with loopback up.
func AddNetns(ctx context.Context, name string) error {
	if _, err := Run(ctx, "", nil, "ip", "netns", "add", name); err != nil {
		return err
	}
	_, err := Run(ctx, name, nil, "ip", "link", "set", "lo", "up")
	return err
}

// DelNetns deletes a network namespace; a missing one is not an error.
func DelNetns(ctx context.Context, name string) error {
	out, err := Run(ctx, "", nil, "ip", "netns", "del", name)
	if err != nil && !contains(out, "No such file") {
		return fmt.Errorf("delete netns %s: %w", name, err)
	}
	return nil
}
