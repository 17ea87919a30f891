package threads

import (
	"context"
	"testing"
	"time"

	"github.com/chatnight/chatnight/pipeline/storage"
)

// TestOverlayPlacesLikeStored: a batch placed while the previous one is pending in the
// overlay is placed exactly as if that batch had been stored, and pending rows win over
// older stored rows of the same post.
func TestOverlayPlacesLikeStored(t *testing.T) {
	ctx := context.Background()
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	row := func(id, replyTo string, v uint64) storage.PostRow {
		return storage.PostRow{ID: id, Community: "c", ReplyToID: replyTo, AuthorID: "a-" + id, CreatedAt: at, Version: v}
	}
	place := func(lk Lookup, rows ...storage.PostRow) []storage.PostRow {
		ptrs := make([]*storage.PostRow, len(rows))
		for i := range rows {
			ptrs[i] = &rows[i]
		}
		if _, err := Place(ctx, lk, "c", ptrs); err != nil {
			t.Fatal(err)
		}
		return rows
	}

	// Stored: an orphan reply r2 -> r1 (r1 missing).
	base := NewMemory()
	orphan := place(base, row("r2", "r1", 1))
	_ = base.Write(ctx, &storage.Batch{Posts: orphan})
	ref := NewMemory()
	_ = ref.Write(ctx, &storage.Batch{Posts: orphan})

	ov := NewOverlay(base)
	// Batch 1 brings the parent r1 (reply to root r0); it stays pending.
	b1 := &storage.Batch{Posts: place(ov, row("r0", "", 2), row("r1", "r0", 2))}
	ov.Add(b1)
	_ = ref.Write(ctx, b1)
	// Batch 2 replies to r1 and to r2: placed from the pending rows.
	got := place(ov, row("r3", "r1", 3), row("r4", "r2", 3))
	want := place(ref, row("r3", "r1", 3), row("r4", "r2", 3))
	for i := range got {
		if got[i].RootID != want[i].RootID || got[i].Depth != want[i].Depth {
			t.Errorf("%s: placed %s/%d through the overlay, %s/%d when stored", got[i].ID, got[i].RootID, got[i].Depth, want[i].RootID, want[i].Depth)
		}
	}
	kids, err := ov.Children(ctx, "c", []string{"r1"})
	if err != nil {
		t.Fatal(err)
	}
	if len(kids) != 1 || kids[0].ID != "r2" {
		t.Fatalf("children of r1: %v", kids)
	}
	ids, err := ov.ReplyIDs(ctx, "c", []string{"r0"})
	if err != nil || len(ids["r0"]) != 1 || ids["r0"][0] != "r1" {
		t.Fatalf("reply ids of r0: %v %v", ids, err)
	}
	ov.Remove(b1)
	if ov.Len() != 0 {
		t.Fatal("batch not removed")
	}
	if ps, _ := ov.Posts(ctx, "c", []string{"r1"}); len(ps) != 0 {
		t.Fatalf("r1 still visible after Remove without being stored: %v", ps)
	}
}
