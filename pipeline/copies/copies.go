// Package copies recognises bridged copies of posts: the same post seen again on
// another network through a bridge. Bridgy Fed shows a Bluesky post on the fediverse as
// a status of handle@bsky.brid.gy whose ActivityPub id is
// https://bsky.brid.gy/convert/ap/at://<did>/app.bsky.feed.post/<rkey>, so the Bluesky
// post it copies, and its author, follow from the copy alone.
//
// The processor stores such a copy once, as the post it copies: under the original's
// id and author, with the copy recorded beside it (network, id, URL).
package copies

import (
	"strings"

	"github.com/chatnight/chatnight/pipeline/post"
)

// bridgyAP is how Bridgy Fed's ActivityPub ids of Bluesky records begin.
const bridgyAP = "https://bsky.brid.gy/convert/ap/"

// bridgedFromBluesky is the fediverse domain of Bluesky accounts bridged by Bridgy Fed.
const bridgedFromBluesky = "@bsky.brid.gy"

// Copy is where a post appeared besides its own network.
type Copy struct {
	Network string `json:"network"`
	ID      string `json:"id"`
	URL     string `json:"url,omitempty"`
}

// Bridged returns the post p copies, as p rewritten to be it (the original's id and
// author; text, time and the rest as the copy has them), and the copy; ok is false for
// a post that is no bridged copy.
func Bridged(p *post.Post) (orig *post.Post, c Copy, ok bool) {
	if p.Network() != "mastodon" {
		return nil, Copy{}, false
	}
	at, ok := strings.CutPrefix(strings.TrimPrefix(p.ID, "mastodon:"), bridgyAP)
	if !ok || !strings.HasPrefix(at, "at://") {
		return nil, Copy{}, false
	}
	did, _, _ := strings.Cut(strings.TrimPrefix(at, "at://"), "/")
	if !strings.HasPrefix(did, "did:") {
		return nil, Copy{}, false
	}
	o := *p
	o.ID = "bluesky:" + at
	o.Author = post.Account{ID: "bluesky:" + did, Handle: strings.TrimSuffix(p.Author.Handle, bridgedFromBluesky),
		Name: p.Author.Name, Followers: p.Author.Followers}
	if !strings.HasSuffix(p.Author.Handle, bridgedFromBluesky) {
		o.Author.Handle = did
	}
	o.ReplyToID = Original(p.ReplyToID)
	o.RootID = Original(p.RootID)
	o.QuoteOfID = Original(p.QuoteOfID)
	o.RepostOfID = Original(p.RepostOfID)
	o.URL = "https://bsky.app/profile/" + did + "/post/" + at[strings.LastIndex(at, "/")+1:]
	return &o, Copy{Network: "mastodon", ID: p.ID, URL: p.URL}, true
}

// Original is the id of the post that id is a bridged copy of, or id itself.
func Original(id string) string {
	if at, ok := strings.CutPrefix(strings.TrimPrefix(id, "mastodon:"), bridgyAP); ok && strings.HasPrefix(id, "mastodon:") && strings.HasPrefix(at, "at://") {
		return "bluesky:" + at
	}
	return id
}
