package people

import (
	"context"
	"fmt"
	"sort"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/chatnight/chatnight/pipeline/storage"
)

// The claim look-ups, one place each. Keys are bound as parameters.
const (
	// queryClaimsOfAccounts reads the keys some accounts hold.
	queryClaimsOfAccounts = `
SELECT account_id, claim, reason
FROM chatnight.account_claims FINAL
WHERE account_id IN {accounts:Array(String)}`

	// queryHoldersOfKeys reads every account holding some keys (own ids excluded:
	// nobody else holds them).
	queryHoldersOfKeys = `
SELECT account_id, claim, reason
FROM chatnight.account_claims FINAL
WHERE claim IN {keys:Array(String)}`
)

// maxHops bounds how far Load follows chains of evidence (A shares a key with B, B
// with C, …); real people have two or three accounts.
const maxHops = 4

// chunk bounds the ids bound into one query.
const chunk = 5000

// Load reads the claims of accounts and of every account linked to them (up to
// maxHops links away), with the declared people, and resolves them. It is the one
// mapping account -> person the read path applies.
func Load(ctx context.Context, conn driver.Conn, accounts []string, declared []Declared) (*Mapping, error) {
	return LoadWith(ctx, conn, accounts, declared, nil)
}

// LoadWith is Load with claims not stored yet (a batch being derived) added.
func LoadWith(ctx context.Context, conn driver.Conn, accounts []string, declared []Declared, extra []Claim) (*Mapping, error) {
	claims := append([]Claim(nil), extra...)
	seenAccount := map[string]bool{}
	seenKey := map[string]bool{}
	for _, d := range declared {
		for _, k := range d.Keys() {
			seenKey[k] = false // declared keys are looked up in the first round
		}
	}
	for _, c := range extra {
		if c.Key != IDKey(c.AccountID) {
			seenKey[c.Key] = false // so are the keys of claims not stored yet
		}
	}
	next := append([]string(nil), accounts...)
	for hop := 0; hop < maxHops && len(next) > 0; hop++ {
		var fresh []string
		for _, a := range next {
			if !seenAccount[a] {
				seenAccount[a] = true
				fresh = append(fresh, a)
			}
		}
		got, err := storage.SelectChunked[Claim](ctx, conn, queryClaimsOfAccounts, nil, "accounts", fresh, chunk)
		if err != nil {
			return nil, fmt.Errorf("read identity claims of %d accounts: %w", len(fresh), err)
		}
		claims = append(claims, got...)
		var keys []string
		for _, c := range got {
			if done, ok := seenKey[c.Key]; (!ok || !done) && c.Key != IDKey(c.AccountID) {
				keys = append(keys, c.Key)
				seenKey[c.Key] = true
			}
		}
		if hop == 0 {
			for k, done := range seenKey {
				if !done {
					keys = append(keys, k)
					seenKey[k] = true
				}
			}
		}
		sort.Strings(keys)
		holders, err := storage.SelectChunked[Claim](ctx, conn, queryHoldersOfKeys, nil, "keys", keys, chunk)
		if err != nil {
			return nil, fmt.Errorf("read accounts holding %d identity keys: %w", len(keys), err)
		}
		claims = append(claims, holders...) // linked even when the hops run out
		next = next[:0]
		for _, h := range holders {
			if !seenAccount[h.AccountID] {
				next = append(next, h.AccountID)
			}
		}
	}
	return Resolve(claims, declared), nil
}
