package export

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/chatnight/chatnight/web/completeness"
)

// Manifest says what an export is, so that it can be cited and checked: the collection
// window and sources, what the collection may have missed, the privacy rules applied,
// the deletions honoured, and the software and schema that produced it. Every export
// carries one: JSON under "manifest", CSV and Markdown as leading "#" lines, HTML in its
// header, GEXF and GraphML in their description.
type Manifest struct {
	Generator     string    `json:"generator"` // "chatnight <version>"
	SchemaVersion uint32    `json:"schema_version"`
	GeneratedAt   time.Time `json:"generated_at"`
	Community     string    `json:"community"`
	Session       string    `json:"session"`
	Window        Window    `json:"collection_window"`
	Sources       []string  `json:"sources"`
	// CompletenessSummary is one line per source with something missing or on record.
	CompletenessSummary []string             `json:"completeness_summary"`
	Completeness        *completeness.Report `json:"completeness"`
	Privacy             Privacy              `json:"privacy"`
	Deletions           Deletions            `json:"deletions"`
}

// Window is the collection window of an export.
type Window struct {
	From time.Time `json:"from"`
	To   time.Time `json:"to"`
}

// Privacy is what was done to accounts in the export.
type Privacy struct {
	OptedOut        int    `json:"opted_out_accounts"`         // on the opt-out list (chatnight optout)
	ConsentOptedOut int    `json:"consent_opted_out_accounts"` // by their consent signals
	ConsentRule     string `json:"consent_rule"`
	Pseudonymized   bool   `json:"pseudonymised"`
	Pseudonyms      string `json:"pseudonyms"`
}

// Deletions counts the posts removed because they were deleted at their source.
type Deletions struct {
	Removed uint64 `json:"removed"` // deletions recorded: those posts are in no export
	Purged  uint64 `json:"purged"`  // of those, erased from disk too
}

// Consent rules, as manifests state them.
const (
	ConsentDefault = "accounts with Mastodon noindex: true or the Bluesky !no-unauthenticated self-label are treated as opted out"
	ConsentStrict  = ConsentDefault + "; Mastodon accounts must also be indexable: true (consent: strict)"
	PseudonymsAll  = "every account replaced by a keyed HMAC-SHA256 pseudonym under this install's key (stable across exports); @mentions and profile links in text rewritten, post links dropped. This is pseudonymisation, not anonymisation: text can still identify people"
	PseudonymsOpt  = "opted-out accounts replaced by a keyed HMAC-SHA256 pseudonym under this install's key; others as collected"
)

// JSON is the manifest on one line.
func (m *Manifest) JSON() string {
	b, _ := json.Marshal(m)
	return string(b)
}

// Lines are the human-readable header lines of a transcript or report; none without
// a manifest.
func (m *Manifest) Lines() []string {
	if m == nil {
		return nil
	}
	out := []string{
		fmt.Sprintf("Collected %s to %s UTC from %s by %s (schema %d).", m.Window.From.UTC().Format("2006-01-02 15:04"),
			m.Window.To.UTC().Format("2006-01-02 15:04"), strings.Join(m.Sources, ", "), m.Generator, m.SchemaVersion),
	}
	if len(m.CompletenessSummary) == 0 {
		out = append(out, "Completeness: nothing missed on record.")
	} else {
		out = append(out, "Completeness: "+strings.Join(m.CompletenessSummary, " | "))
	}
	pseudo := "opted-out accounts pseudonymised"
	if m.Privacy.Pseudonymized {
		pseudo = "every account pseudonymised (pseudonymisation, not anonymisation)"
	}
	out = append(out, fmt.Sprintf("Privacy: %d opted out, %d by consent signals (%s); %s. Deletions honoured: %d removed, %d purged from disk.",
		m.Privacy.OptedOut, m.Privacy.ConsentOptedOut, m.Privacy.ConsentRule, pseudo, m.Deletions.Removed, m.Deletions.Purged))
	return out
}

// writeCommentLines writes the manifest as "# " lines: the readable lines, then the JSON.
func writeCommentLines(w io.Writer, m *Manifest) {
	if m == nil {
		return
	}
	for _, l := range m.Lines() {
		fmt.Fprintf(w, "# %s\n", strings.ReplaceAll(l, "\n", " "))
	}
	fmt.Fprintf(w, "# manifest: %s\n", m.JSON())
}
