package people

import (
	"reflect"
	"testing"
)

type account struct {
	id, handle string
	links      []string
}

func resolve(accounts []account, declared ...Declared) *Mapping {
	var claims []Claim
	for _, a := range accounts {
		claims = append(claims, Claims(a.id, a.handle, a.links)...)
	}
	return Resolve(claims, declared)
}

func TestLinksOnlyOnEvidence(t *testing.T) {
	m := resolve([]account{
		// Bridgy Fed, Bluesky to Mastodon.
		{id: "bluesky:did:plc:ana", handle: "ana.example.org"},
		{id: "mastodon:ana.example.org@bsky.brid.gy", handle: "ana.example.org@bsky.brid.gy"},
		// Bridgy Fed, fediverse to Bluesky.
		{id: "mastodon:ben@med.example", handle: "ben@med.example"},
		{id: "bluesky:did:plc:benbridged", handle: "ben.med.example.ap.brid.gy"},
		// A verified Mastodon link whose domain is a Bluesky handle.
		{id: "mastodon:colin@hc.example", handle: "colin@hc.example", links: []string{"https://colin.example.com/"}},
		{id: "bluesky:did:plc:colin", handle: "colin.example.com"},
		// The same verified URL on two Mastodon accounts.
		{id: "mastodon:dee@a.example", handle: "dee@a.example", links: []string{"https://dee.blog.example/about"}},
		{id: "mastodon:dee@b.example", handle: "dee@b.example", links: []string{"https://www.dee.blog.example/about/"}},
		// No evidence: same name on two networks, a verified link to a page on a
		// domain that is a Bluesky handle, an unverified look-alike.
		{id: "mastodon:eve@a.example", handle: "eve@a.example", links: []string{"https://github.com/eve"}},
		{id: "bluesky:did:plc:github", handle: "github.com"},
		{id: "bluesky:did:plc:eve", handle: "eve.bsky.social"},
		{id: "x:42", handle: "eve"},
		// Declared in the config.
		{id: "x:7", handle: "Colin_Hung"},
		{id: "bluesky:did:plc:unresolved", handle: "did:plc:unresolved"},
	}, Declared{Name: "Colin Hung", Accounts: []string{"x:colin_hung", "bluesky:colin.example.com"}},
		Declared{Name: "Nobody", Accounts: []string{"x:nobody"}})

	want := []Person{
		{ID: "bluesky:did:plc:ana", Accounts: []string{"bluesky:did:plc:ana", "mastodon:ana.example.org@bsky.brid.gy"},
			Why: []string{"Bridgy Fed: ana.example.org@bsky.brid.gy on Mastodon is Bluesky @ana.example.org"}},
		{ID: "bluesky:did:plc:benbridged", Accounts: []string{"bluesky:did:plc:benbridged", "mastodon:ben@med.example"},
			Why: []string{"Bridgy Fed: Bluesky @ben.med.example.ap.brid.gy is ben@med.example on the fediverse"}},
		{ID: "bluesky:did:plc:colin", Accounts: []string{"bluesky:did:plc:colin", "mastodon:colin@hc.example", "x:7"},
			Why: []string{
				"declared in the communities file as Colin Hung",
				"verified Mastodon link https://colin.example.com/ is Bluesky handle @colin.example.com",
			}},
		{ID: "mastodon:dee@a.example", Accounts: []string{"mastodon:dee@a.example", "mastodon:dee@b.example"},
			Why: []string{"same verified link https://dee.blog.example/about", "same verified link https://www.dee.blog.example/about/"}},
	}
	var got []Person
	for _, p := range m.Linked() {
		got = append(got, *p)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("linked people:\n got %+v\nwant %+v", got, want)
	}
	for _, apart := range []string{"mastodon:eve@a.example", "bluesky:did:plc:github", "bluesky:did:plc:eve", "x:42", "bluesky:did:plc:unresolved"} {
		if m.Of(apart) != apart {
			t.Errorf("%s linked to %s without evidence", apart, m.Of(apart))
		}
	}
	if got := m.Of("mastodon:colin@hc.example"); got != "bluesky:did:plc:colin" {
		t.Errorf("colin's Mastodon account is person %s", got)
	}
	if p := m.Person("bluesky:did:plc:colin"); p == nil || !reflect.DeepEqual(p.Networks(), map[string]int{"bluesky": 1, "mastodon": 1, "x": 1}) {
		t.Errorf("colin's networks: %+v", p)
	}
	var nilMap *Mapping
	if nilMap.Of("x:1") != "x:1" || nilMap.Person("x:1") != nil {
		t.Error("a nil Mapping must map accounts to themselves")
	}
}
