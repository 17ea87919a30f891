package segments

import (
	"bytes"
	"encoding/json"
)

// Only the segment and its reason are stored, never the bio the rules read it from.
// Posts keep their source payload (Raw), which carries the author's profile on some
// networks: a Mastodon status's account.note, an X v1 tweet's user.description, a
// Bluesky profile view's description, an ActivityPub actor's summary. StripBios
// removes them before a payload is stored.

// bioKeys are the profile-description fields of account objects.
var bioKeys = []string{"note", "description", "bridgyOriginalDescription", "summary", "source"}

// bioMarkers are the bytes a payload holds when it may carry a bio: without any of
// them it is returned as it is, unparsed.
var bioMarkers = [][]byte{[]byte(`"note"`), []byte(`"description"`), []byte(`"bridgyOriginalDescription"`), []byte(`"summary"`)}

// StripBios returns raw with the profile descriptions of the accounts in it removed
// (their keys dropped). A payload that carries none, or that is not JSON, is returned
// unchanged; a changed one is re-encoded, which keeps its values but not its key order.
func StripBios(raw []byte) []byte {
	if !mayHoldBio(raw) {
		return raw
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber() // ids over 2^53 stay exact
	var v any
	if err := dec.Decode(&v); err != nil || dec.More() {
		return raw
	}
	if !strip(v) {
		return raw
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return raw
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
}

func mayHoldBio(raw []byte) bool {
	for _, m := range bioMarkers {
		if bytes.Contains(raw, m) {
			return true
		}
	}
	return false
}

// strip removes the bios of the account objects in v, however deep; it reports
// whether it removed any.
func strip(v any) bool {
	changed := false
	switch x := v.(type) {
	case map[string]any:
		if isAccount(x) {
			for _, k := range bioKeys {
				if _, ok := x[k]; ok {
					delete(x, k)
					changed = true
				}
			}
			// X v1 users keep the links of their description apart.
			if ent, ok := x["entities"].(map[string]any); ok {
				if _, ok := ent["description"]; ok {
					delete(ent, "description")
					changed = true
				}
			}
		}
		for _, e := range x {
			changed = strip(e) || changed
		}
	case []any:
		for _, e := range x {
			changed = strip(e) || changed
		}
	}
	return changed
}

// isAccount says whether o is a profile: a Mastodon account (acct), an X user
// (username, screen_name), a Bluesky profile (handle, or an app.bsky.actor.profile
// record) or an ActivityPub actor.
func isAccount(o map[string]any) bool {
	for _, k := range []string{"acct", "username", "screen_name", "handle"} {
		if _, ok := o[k]; ok {
			return true
		}
	}
	switch t, _ := o["$type"].(string); t {
	case "app.bsky.actor.profile", "app.bsky.actor.defs#profileView", "app.bsky.actor.defs#profileViewDetailed", "app.bsky.actor.defs#profileViewBasic":
		return true
	}
	switch t, _ := o["type"].(string); t {
	case "Person", "Service", "Application", "Group", "Organization":
		return true
	}
	return false
}
