package xapi

import (
	"bytes"
	"encoding/json"
	"fmt"
	"time"

	"github.com/chatnight/chatnight/pipeline/steward"
)

// ParseCompliance reads one record of an X compliance file: a line of a batch
// compliance job's results ({"id": "…", "action": "delete", "redacted_at": "…"}) or a
// bare tweet id. Tweets that are deleted (or whose account was deactivated,
// suspended or protected: no longer public) are deletions; other actions (scrub_geo)
// give false. now is the time of a deletion without redacted_at.
func ParseCompliance(raw []byte, now time.Time) (steward.Deletion, bool, error) {
	raw = bytes.TrimSpace(raw)
	var rec struct {
		ID         string `json:"id"`
		Action     string `json:"action"`
		RedactedAt string `json:"redacted_at"`
	}
	if len(raw) > 0 && raw[0] == '{' {
		if err := json.Unmarshal(raw, &rec); err != nil {
			return steward.Deletion{}, false, fmt.Errorf("compliance record: %w", err)
		}
	} else {
		rec.ID = string(bytes.Trim(raw, `"`))
	}
	if !validID(rec.ID) {
		return steward.Deletion{}, false, fmt.Errorf("compliance record: %q is not a tweet id", rec.ID)
	}
	switch rec.Action {
	case "", "delete", "deactivate", "suspend", "protect":
	default:
		return steward.Deletion{}, false, nil
	}
	at := now
	if t, err := time.Parse(time.RFC3339, rec.RedactedAt); err == nil {
		at = t
	}
	reason := "x compliance file"
	if rec.Action != "" {
		reason += " (" + rec.Action + ")"
	}
	return steward.Deletion{PostID: "x:" + rec.ID, Source: "import", Reason: reason, At: at.UTC()}, true, nil
}
