// Package threads places posts in reply threads: each post gets the id of its thread's
// root and its depth below it (the root has depth 0, a reply to it 1, ...).
//
// The root comes from the source when it gives one (X conversation_id, Bluesky
// reply.root); otherwise it is found by walking reply_to up through the batch and the
// stored posts (Mastodon). A post that replies to nothing roots its own thread.
//
// A reply can arrive before its parent. It is then placed provisionally: its root is the
// source's root if given, else the missing parent itself (so all replies to a missing
// post gather under it), and its depth counts the missing parent as a root (1), or as a
// reply (2) when the source's root says the parent is not the root. When the parent
// arrives, Place finds its stored children through Lookup and returns them, and their
// stored descendants, placed again, for the Deriver to write with a higher version.
// Their session_id is kept: a post's session never changes. A stored post placed again
// takes its parent's root; with sources that give roots that is the same root. Batch
// posts under a stored post that moves are placed again too.
//
// Invariant: after each batch is written, every stored post is placed as well as the
// stored posts allow. Then one level of stored parents is enough to place a batch, and
// stored children that do not move need not be followed further. Two processes writing a
// child and its parent at the same moment can each miss the other (neither is stored
// yet when the other looks): that child stays provisionally placed until something in
// its thread is written again. Reposts root their own one-post thread.
package threads

import (
	"context"
	"fmt"
	"sort"

	"github.com/chatnight/chatnight/pipeline/storage"
)

// Lookup reads stored posts. The processor implements it over ClickHouse (NewClickHouse);
// tests use Memory.
type Lookup interface {
	// Posts returns the stored posts of community with any of ids (the newest version of
	// each), in any order. Missing ids are left out.
	Posts(ctx context.Context, community string, ids []string) ([]storage.PostRow, error)
	// Children returns the stored posts of community that reply to any of parentIDs.
	Children(ctx context.Context, community string, parentIDs []string) ([]storage.PostRow, error)
}

// ReplyIndex is an optional, cheaper part of a Lookup: which stored posts reply to
// which, without reading the posts.
type ReplyIndex interface {
	// ReplyIDs returns the ids of the stored posts of community replying to any of
	// parentIDs, by parent id.
	ReplyIDs(ctx context.Context, community string, parentIDs []string) (map[string][]string, error)
}

// ReplyIDs answers through lk's ReplyIndex when it has one, else through Children.
func ReplyIDs(ctx context.Context, lk Lookup, community string, parentIDs []string) (map[string][]string, error) {
	if ri, ok := lk.(ReplyIndex); ok {
		return ri.ReplyIDs(ctx, community, parentIDs)
	}
	kids, err := lk.Children(ctx, community, parentIDs)
	if err != nil {
		return nil, err
	}
	out := map[string][]string{}
	for _, k := range kids {
		out[k.ReplyToID] = append(out[k.ReplyToID], k.ID)
	}
	return out, nil
}

// MaxDepth bounds the walk through reply chains, in the batch and in storage.
const MaxDepth = 1000

// Adoption is a stored post whose parent is in the batch.
type Adoption struct {
	Child  *storage.PostRow // as placed now (a copy of Result.Moved's row when Moved)
	Parent *storage.PostRow // the batch row of the parent
	Moved  bool             // the child's placement changed; it is in Result.Moved
}

// Result is what Place found besides the placement of the batch rows.
type Result struct {
	// Parents holds the parent of each batch reply whose parent is known, from the batch
	// or from storage, by parent id.
	Parents map[string]*storage.PostRow
	// Moved are stored posts placed anew: root_id and depth changed, and reply_to_author_id
	// filled from the parent when the source left it empty. Their Version is not bumped:
	// the caller sets it above the stored one.
	Moved []storage.PostRow
	// StoredVersion holds the stored version of each moved post, by id.
	StoredVersion map[string]uint64
	// Adopted are the stored direct children of batch posts.
	Adopted []Adoption
}

// Place places rows, the posts of one community in a batch, in their threads. On input
// each row's RootID is the root the source gave ("" when none); on output it is the
// thread root, and Depth is set. Rows must have distinct ids.
func Place(ctx context.Context, lk Lookup, community string, rows []*storage.PostRow) (*Result, error) {
	res := &Result{Parents: map[string]*storage.PostRow{}, StoredVersion: map[string]uint64{}}
	batch := make(map[string]*storage.PostRow, len(rows))
	sourceRoot := make(map[string]string, len(rows))
	for _, r := range rows {
		batch[r.ID] = r
		sourceRoot[r.ID] = r.RootID
	}

	// One level of stored parents: stored posts are placed already.
	var missing []string
	seen := map[string]bool{}
	for _, r := range rows {
		if p := r.ReplyToID; p != "" && p != r.ID && batch[p] == nil && !seen[p] {
			seen[p] = true
			missing = append(missing, p)
		}
	}
	stored := map[string]*storage.PostRow{}
	if len(missing) > 0 {
		found, err := lk.Posts(ctx, community, missing)
		if err != nil {
			return nil, fmt.Errorf("look up parents in %s: %w", community, err)
		}
		for i := range found {
			stored[found[i].ID] = &found[i]
		}
	}

	// Place the batch, parents first.
	const (
		todo = iota
		busy
		done
	)
	state := make(map[string]int, len(rows))
	var place func(r *storage.PostRow, level int)
	place = func(r *storage.PostRow, level int) {
		state[r.ID] = busy
		var parent *storage.PostRow
		if p := r.ReplyToID; p != "" && p != r.ID {
			if b := batch[p]; b != nil {
				if state[p] == todo && level < MaxDepth {
					place(b, level+1)
				}
				if state[p] == done { // busy means a reply_to cycle: treat the parent as missing
					parent = b
				}
			} else {
				parent = stored[p]
			}
		}
		if parent != nil {
			res.Parents[parent.ID] = parent
		}
		r.RootID, r.Depth = placement(r.ID, r.ReplyToID, sourceRoot[r.ID], parent)
		state[r.ID] = done
	}
	for _, r := range rows {
		if state[r.ID] == todo {
			place(r, 0)
		}
	}

	// Descendants of the batch, level by level: stored replies to what was placed, and
	// batch posts replying to a stored post that moved. A post is placed again whenever
	// its parent moves, so the last placement is the one from the final parents.
	batchKids := map[string][]*storage.PostRow{}
	for _, r := range rows {
		if r.ReplyToID != "" && r.ReplyToID != r.ID {
			batchKids[r.ReplyToID] = append(batchKids[r.ReplyToID], r)
		}
	}
	storedRows := map[string]*storage.PostRow{} // stored descendants, as placed now
	orig := map[string]storage.PostRow{}        // ... and as stored
	adopted := map[string]bool{}
	current := func(id string) *storage.PostRow {
		if r := batch[id]; r != nil {
			return r
		}
		return storedRows[id]
	}
	frontier := sortedKeys(batch)
	for level := 0; len(frontier) > 0 && level < MaxDepth; level++ {
		children, err := lk.Children(ctx, community, frontier)
		if err != nil {
			return nil, fmt.Errorf("look up replies in %s: %w", community, err)
		}
		sort.Slice(children, func(i, j int) bool {
			a, b := &children[i], &children[j]
			if !a.CreatedAt.Equal(b.CreatedAt) {
				return a.CreatedAt.Before(b.CreatedAt)
			}
			return a.ID < b.ID
		})
		var next []string
		for i := range children {
			c := &children[i]
			if batch[c.ID] != nil || c.ReplyToID == c.ID {
				continue // the batch copy is placed above
			}
			parent := current(c.ReplyToID)
			if parent == nil {
				continue
			}
			prev := storedRows[c.ID]
			if prev == nil {
				cp := *c
				prev = &cp
				storedRows[c.ID] = prev
				orig[c.ID] = *c
				res.StoredVersion[c.ID] = c.Version
			}
			moved := false
			root, depth := placement(prev.ID, prev.ReplyToID, "", parent)
			if prev.RootID != root || prev.Depth != depth {
				prev.RootID, prev.Depth, moved = root, depth, true
			}
			if prev.ReplyToAuthorID == "" && parent.AuthorID != "" {
				prev.ReplyToAuthorID, moved = parent.AuthorID, true
			}
			if moved {
				next = append(next, prev.ID)
			}
			if batch[parent.ID] != nil && !adopted[prev.ID] {
				adopted[prev.ID] = true
				res.Adopted = append(res.Adopted, Adoption{Child: prev, Parent: parent})
			}
		}
		if level > 0 {
			// Batch posts under a post that moved at the previous level.
			for _, id := range frontier {
				for _, k := range batchKids[id] {
					root, depth := placement(k.ID, k.ReplyToID, sourceRoot[k.ID], current(id))
					if k.RootID != root || k.Depth != depth {
						k.RootID, k.Depth = root, depth
						next = append(next, k.ID)
					}
				}
			}
		}
		frontier = next
	}
	// A stored post moved if it ends placed otherwise than stored.
	var movedIDs []string
	for id, r := range storedRows {
		o := orig[id]
		if r.RootID != o.RootID || r.Depth != o.Depth || r.ReplyToAuthorID != o.ReplyToAuthorID {
			movedIDs = append(movedIDs, id)
		}
	}
	sort.Slice(movedIDs, func(i, j int) bool {
		a, b := storedRows[movedIDs[i]], storedRows[movedIDs[j]]
		if !a.CreatedAt.Equal(b.CreatedAt) {
			return a.CreatedAt.Before(b.CreatedAt)
		}
		return a.ID < b.ID
	})
	moved := make(map[string]bool, len(movedIDs))
	for _, id := range movedIDs {
		moved[id] = true
		res.Moved = append(res.Moved, *storedRows[id])
	}
	for i := range res.Adopted {
		res.Adopted[i].Moved = moved[res.Adopted[i].Child.ID]
	}
	return res, nil
}

// placement is the root and depth of post id replying to replyTo (may be ""), with the
// root its source gave (may be "") and its parent (nil when unknown).
func placement(id, replyTo, sourceRoot string, parent *storage.PostRow) (root string, depth uint16) {
	switch {
	case replyTo == "" || replyTo == id:
		return id, 0
	case parent != nil:
		root = parent.RootID
		if sourceRoot != "" {
			root = sourceRoot
		}
		if root == "" {
			root = parent.ID
		}
		if parent.Depth == ^uint16(0) {
			return root, parent.Depth
		}
		return root, parent.Depth + 1
	case sourceRoot != "" && sourceRoot != replyTo:
		return sourceRoot, 2 // the parent is a reply itself
	case sourceRoot != "":
		return sourceRoot, 1
	default:
		return replyTo, 1
	}
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
