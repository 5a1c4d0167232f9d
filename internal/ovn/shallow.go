package ovn

import (
	"context"
	"slices"

	"github.com/ovn-kubernetes/libovsdb/cache"
	"github.com/ovn-kubernetes/libovsdb/client"
)

// shallowAttempts bounds how often a read is retried when a reconnect replaced the cache
// under it; past that the snapshot copies the rows with List, as it did before.
const shallowAttempts = 3

// readShallow reads tables of one client's cache without copying the rows: libovsdb's
// RowsShallow hands out the cached objects themselves, which are read-only (an update
// replaces a row with a modified clone, never changes it in place). What this keeps from
// List is its consistency: List waits (up to lctx) until the client is not reconnecting,
// and reads under the lock a reconnect holds while it purges and refills the cache. Here
// the wait is a List of one small table (into wait), and a reconnect in between shows as
// new row caches: a purge swaps every table's RowCache for a new one. The rows are taken
// only when the caches read are the same objects before the first wait and after a second
// one, so none of them was a cache being refilled; otherwise the read is retried.
// read receives the row caches by table, in the order of tables. ok is false when every
// attempt saw a reconnect.
func readShallow(lctx context.Context, c client.Client, tables []string, wait func() any, read func([]*cache.RowCache)) (ok bool, err error) {
	for range shallowAttempts {
		before := rowCaches(c, tables)
		if err := c.List(lctx, wait()); err != nil {
			return false, err
		}
		at := rowCaches(c, tables)
		if !slices.Equal(before, at) {
			continue
		}
		read(at)
		if err := c.List(lctx, wait()); err != nil {
			return false, err
		}
		if slices.Equal(at, rowCaches(c, tables)) {
			return true, nil
		}
	}
	return false, nil
}

func rowCaches(c client.Client, tables []string) []*cache.RowCache {
	tc := c.Cache()
	out := make([]*cache.RowCache, len(tables))
	for i, t := range tables {
		out[i] = tc.Table(t)
	}
	return out
}
