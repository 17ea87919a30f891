// Package copies recognises bridged copies of posts: the same post seen again on
// another network through a bridge. Bridgy Fed shows a Bluesky post on the fediverse as
// a status of handle@bsky.brid.gy whose ActivityPub id is
// https://bsky.brid.gy/convert/ap/at://<did>/app.bsky.feed.post/<rkey>, so the Bluesky
// post it copies, and its author, follow from the copy alone.
//
// The other way, Bridgy Fed shows a fediverse status on Bluesky as a post of
// user.instance.ap.brid.gy whose record carries bridgyOriginalUrl, the status's URL. On
// Mastodon that URL is https://instance/@user/<id> and the status's id (its ActivityPub
// id, which chatnight's Mastodon post ids hold) is https://instance/users/user/statuses/<id>,
// so the status it copies and its author follow from the copy too. Servers that name
// statuses otherwise are not recognised: their copies stay posts of their own.
//
// The processor stores such a copy once, as the post it copies: under the original's
// id and author, with the copy recorded beside it (network, id, URL).
package copies

import (
	"bytes"
	"encoding/json"
	"net/url"
	"regexp"
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
	switch p.Network() {
	case "mastodon":
		return fromBluesky(p)
	case "bluesky":
		return fromFediverse(p)
	}
	return nil, Copy{}, false
}

// fromBluesky recognises a Bluesky post's copy on the fediverse.
func fromBluesky(p *post.Post) (orig *post.Post, c Copy, ok bool) {
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

// bridgedFromFediverse ends the Bluesky handles of fediverse accounts bridged by
// Bridgy Fed: user.instance.ap.brid.gy.
const bridgedFromFediverse = ".ap.brid.gy"

// mastodonStatusURL matches a Mastodon status's web URL (https://instance/@user/<id>)
// and its ActivityPub id (https://instance/users/user/statuses/<id>).
var mastodonStatusURL = regexp.MustCompile(`^/(?:@([A-Za-z0-9_]+)|users/([A-Za-z0-9_]+)/statuses)/([0-9]+)$`)

// fromFediverse recognises a fediverse status's copy on Bluesky: its record names the
// status (bridgyOriginalUrl) and its author is a bridged account (or not known by
// handle yet).
func fromFediverse(p *post.Post) (orig *post.Post, c Copy, ok bool) {
	h := strings.ToLower(p.Author.Handle)
	if !strings.HasSuffix(h, bridgedFromFediverse) && !strings.HasPrefix(h, "did:") && h != "" {
		return nil, Copy{}, false // a Bluesky user's own post, or a bridged web site's
	}
	status := originalURL(p.Raw)
	if status == "" {
		return nil, Copy{}, false
	}
	u, err := url.Parse(status)
	if err != nil || u.Scheme != "https" || u.Host == "" || u.RawQuery != "" {
		return nil, Copy{}, false
	}
	m := mastodonStatusURL.FindStringSubmatch(u.Path)
	if m == nil {
		return nil, Copy{}, false
	}
	user, id, host := m[1]+m[2], m[3], strings.ToLower(u.Host)
	acct := user + "@" + host
	o := *p
	o.ID = "mastodon:https://" + host + "/users/" + user + "/statuses/" + id
	o.Author = post.Account{ID: "mastodon:" + acct, Handle: acct, Name: p.Author.Name, Followers: p.Author.Followers, Bio: p.Author.Bio}
	o.URL = "https://" + host + "/@" + user + "/" + id
	return &o, Copy{Network: "bluesky", ID: p.ID, URL: p.URL}, true
}

// originalURL reads bridgyOriginalUrl from a Bluesky payload: a Jetstream event
// (commit.record) or a post view (record).
func originalURL(raw []byte) string {
	if !bytes.Contains(raw, []byte("bridgyOriginalUrl")) {
		return ""
	}
	var v struct {
		Commit struct {
			Record struct {
				URL string `json:"bridgyOriginalUrl"`
			} `json:"record"`
		} `json:"commit"`
		Record struct {
			URL string `json:"bridgyOriginalUrl"`
		} `json:"record"`
	}
	if json.Unmarshal(raw, &v) != nil {
		return ""
	}
	if v.Commit.Record.URL != "" {
		return v.Commit.Record.URL
	}
	return v.Record.URL
}

// AuthorOf is the author of a post known by its id alone: a Bluesky post's (its AT
// URI names its DID) and a Mastodon status's named as Mastodon names them
// (https://instance/users/user/statuses/<id>); "" otherwise.
func AuthorOf(id string) string {
	if at, ok := strings.CutPrefix(id, "bluesky:at://"); ok {
		if did, _, _ := strings.Cut(at, "/"); strings.HasPrefix(did, "did:") {
			return "bluesky:" + did
		}
		return ""
	}
	if rest, ok := strings.CutPrefix(id, "mastodon:https://"); ok {
		host, path, _ := strings.Cut(rest, "/")
		if m := mastodonStatusURL.FindStringSubmatch("/" + path); m != nil && m[2] != "" {
			return "mastodon:" + m[2] + "@" + strings.ToLower(host)
		}
	}
	return ""
}
