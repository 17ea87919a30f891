package xapi

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/chatnight/chatnight/ingest"
	"github.com/chatnight/chatnight/pipeline/steward"
)

// lookupPath is the tweets lookup endpoint.
const lookupPath = "/2/tweets"

// Deletions seen by search: tweets this source published are looked up once more after
// RecheckAfter, up to 100 per poll round in one request; those X answers with a
// resource-not-found error were deleted (or their account is gone or protected).
var RecheckAfter = 10 * time.Minute

const maxRecent = 4096

type recentTweet struct {
	id string
	at time.Time
}

// noteRecent keeps published tweet ids for their recheck.
func (s *Search) noteRecent(id string) {
	if len(s.recent) >= maxRecent {
		s.recent = s.recent[1:]
	}
	s.recent = append(s.recent, recentTweet{id: id, at: time.Now()})
}

// recheck looks the due tweets up and reports the missing ones as deleted.
func (s *Search) recheck(ctx context.Context, em *ingest.Emitter) error {
	due := time.Now().Add(-RecheckAfter)
	var ids []string
	for len(s.recent) > 0 && len(ids) < 100 && !s.recent[0].at.After(due) {
		ids = append(ids, s.recent[0].id)
		s.recent = s.recent[1:]
	}
	if len(ids) == 0 {
		return nil
	}
	q := url.Values{}
	q.Set("ids", strings.Join(ids, ","))
	resp, err := s.c.do(ctx, http.MethodGet, lookupPath, q, nil, false)
	if err != nil {
		return fmt.Errorf("X lookup of %d stored tweets: %w", len(ids), err)
	}
	defer resp.Body.Close()
	var body struct {
		Errors []struct {
			ResourceID string `json:"resource_id"`
			Type       string `json:"type"`
			Title      string `json:"title"`
		} `json:"errors"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 8<<20)).Decode(&body); err != nil {
		return fmt.Errorf("X lookup of %d stored tweets: %w", len(ids), err)
	}
	asked := map[string]bool{}
	for _, id := range ids {
		asked[id] = true
	}
	for _, e := range body.Errors {
		if !asked[e.ResourceID] || !strings.HasSuffix(e.Type, "/resource-not-found") {
			continue
		}
		d := steward.Deletion{PostID: "x:" + e.ResourceID, Source: metricsSource, Reason: "x 404 on lookup", At: time.Now()}
		if err := em.Delete(ctx, d); err != nil {
			return err
		}
	}
	return nil
}
